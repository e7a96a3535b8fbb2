import { ConfigError } from '@oncely/core';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisStore } from '../src/index.js';
import { epochKey, hashSlot, keysFor, recordPattern, storeKeyOf } from '../src/keys.js';
import { connectShared } from './support/shared-redis.js';

describe('options and key layout', () => {
  let client: Redis;
  beforeAll(async () => {
    client = await connectShared();
  });
  afterAll(() => client.disconnect());

  it.each([
    [{ keyPrefix: 'a{b}:' }, /keyPrefix/],
    [{ keyPrefix: 'a}' }, /keyPrefix/],
    [{ commandTimeoutMs: 0 }, /commandTimeoutMs/],
    [{ pollIntervalMs: Number.NaN }, /pollIntervalMs/],
    [{ redlock: { clients: [] } }, /redlock\.clients/],
    [{ durability: { replicas: 0 } }, /durability\.replicas/],
    [{ durability: { replicas: 1.5 } }, /durability\.replicas/],
    [{ durability: { replicas: 1, timeoutMs: 2000 } }, /durability\.timeoutMs/],
    [{ durability: 'fsync' as never }, /durability must be/],
    [{ resetWindowMs: -1 }, /resetWindowMs/],
    [{ resetUnknownMs: Number.NaN }, /resetUnknownMs/],
    [{ requireDurable: 'yes' as never }, /requireDurable/],
  ])('refuses %o with a ConfigError', (options, message) => {
    expect(() => redisStore({ client, ...options })).toThrow(ConfigError);
    expect(() => redisStore({ client, ...options })).toThrow(message);
  });

  it('refuses a missing client', () => {
    expect(() => redisStore({} as never)).toThrow(ConfigError);
  });

  it('keys share one hash tag built from the store key; braces in it are escaped reversibly', () => {
    const k = keysFor('oncely:', 'billing:ab12');
    expect(k).toEqual({
      record: 'oncely:{billing:ab12}:rec',
      sequence: 'oncely:{billing:ab12}:seq',
      marker: 'oncely:{billing:ab12}:unk',
      gone: 'oncely:{billing:ab12}:gone',
      lock: 'oncely:{billing:ab12}:lock',
      channel: 'oncely:{billing:ab12}:done',
    });
    const odd = keysFor('p:', 'we{i}r%d:x');
    expect(odd.record).toBe('p:{we%7Bi%7Dr%25d:x}:rec');
    expect(storeKeyOf('p:', odd.record)).toBe('we{i}r%d:x');
    expect(storeKeyOf('p:', 'other:{x}:rec')).toBeUndefined();
  });

  it("the epoch key: one per prefix standalone; on Cluster one per slot, in the record's slot", () => {
    expect(hashSlot('foo')).toBe(12182); // CLUSTER KEYSLOT foo
    expect(hashSlot('123456789')).toBe(12739); // the CRC16/XMODEM check value, mod 16384
    expect(epochKey('p:', 'billing:ab12', false)).toBe('p:epoch');
    for (const key of ['billing:ab12', 'we{i}r%d:x', 'ns:é']) {
      const tag = /\{([^}]+)\}/.exec(epochKey('p:', key, true))![1]!;
      const recordTag = /\{([^}]+)\}/.exec(keysFor('p:', key).record)![1]!;
      expect(hashSlot(tag)).toBe(hashSlot(recordTag));
      expect(epochKey('p:', key, true)).toMatch(/^p:\{[0-9a-z]+\}:epoch$/);
    }
  });

  it('the SCAN pattern escapes glob characters of the prefix', () => {
    expect(recordPattern('a*b:')).toBe('a\\*b:{*}:rec');
    expect(recordPattern('p:', 'billing')).toBe('p:{billing:*}:rec');
  });
});
