import { ConfigError } from '@oncely/core';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisStore } from '../src/index.js';
import { epochKey, hashSlot, keysFor, recordPattern, storeKeyOf } from '../src/keys.js';
import { resolveOptions } from '../src/options.js';
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
    [{ commandTimeout: 0 }, /commandTimeout/],
    [{ pollInterval: Number.NaN }, /pollInterval/],
    [{ sweepEvery: '0s' }, /sweepEvery must be more than 0/],
    [{ expiredUnknownGrace: '2 weeks' }, /expiredUnknownGrace must be milliseconds or a duration like/],
    [{ commandTimeout: true as never }, /commandTimeout must be milliseconds or a duration/],
    [{ redlock: { clients: [] } }, /redlock\.clients/],
    [{ durability: { replicas: 0 } }, /durability\.replicas/],
    [{ durability: { replicas: 1.5 } }, /durability\.replicas/],
    [{ durability: { replicas: 1, timeout: '2s' } }, /durability\.timeout must be more than 0 and less/],
    [{ durability: { replicas: 1, timeout: 'soon' } }, /durability\.timeout must be milliseconds/],
    [{ durability: 'fsync' as never }, /durability must be/],
    [{ resetWindow: -1 }, /resetWindow/],
    [{ resetUnknown: Number.NaN }, /resetUnknown/],
    // The deprecated …Ms names are checked as they always were.
    [{ commandTimeoutMs: 0 }, /commandTimeoutMs must be a positive number of ms/],
    [{ pollIntervalMs: Number.NaN }, /pollIntervalMs/],
    [{ sweepEveryMs: '60s' as never }, /sweepEveryMs must be a positive number of ms/],
    [{ durability: { replicas: 1, timeoutMs: 2000 } }, /durability\.timeoutMs/],
    [{ resetWindowMs: -1 }, /resetWindowMs/],
    [{ resetUnknownMs: Number.NaN }, /resetUnknownMs/],
    // A name and its deprecated alias together.
    [{ commandTimeout: '1s', commandTimeoutMs: 1000 }, /commandTimeout and commandTimeoutMs are one option/],
    [{ resetUnknown: 0, resetUnknownMs: 0 }, /resetUnknown and resetUnknownMs/],
    [
      { durability: { replicas: 1, timeout: 100, timeoutMs: 100 } },
      /durability\.timeout and durability\.timeoutMs/,
    ],
    [{ requireDurable: 'yes' as never }, /requireDurable/],
  ])('refuses %o with a ConfigError', (options, message) => {
    expect(() => redisStore({ client, ...options })).toThrow(ConfigError);
    expect(() => redisStore({ client, ...options })).toThrow(message);
  });

  it('takes durations as ms or strings, and the deprecated …Ms names as ms, to the same effect', () => {
    const durations = {
      commandTimeout: '3s',
      pollInterval: 250,
      expiredUnknownGrace: '2d',
      sweepEvery: '1.5m',
      resetWindow: '90s',
      resetUnknown: 0,
      durability: { replicas: 1, timeout: '1s' },
    } as const;
    const deprecated = {
      commandTimeoutMs: 3_000,
      pollIntervalMs: 250,
      expiredUnknownGraceMs: 2 * 86_400_000,
      sweepEveryMs: 90_000,
      resetWindowMs: 90_000,
      resetUnknownMs: 0,
      durability: { replicas: 1, timeoutMs: 1_000 },
    };
    // Resolved, the …Ms names are the same numbers, the durability default filled in.
    const expected = { ...deprecated, durability: { replicas: 1, aof: false, timeoutMs: 1_000 } };
    expect(resolveOptions({ client, ...durations })).toMatchObject(expected);
    expect(resolveOptions({ client, ...deprecated })).toMatchObject(expected);
  });

  it('defaults: 2 s command timeout, 1 s poll, 24 h grace, 60 s sweep, confirmation within half the command timeout', () => {
    expect(resolveOptions({ client, durability: { replicas: 1 } })).toMatchObject({
      commandTimeoutMs: 2_000,
      pollIntervalMs: 1_000,
      expiredUnknownGraceMs: 86_400_000,
      sweepEveryMs: 60_000,
      resetWindowMs: undefined,
      resetUnknownMs: undefined,
      durability: { timeoutMs: 1_000 },
    });
  });

  it('refuses a missing client', () => {
    expect(() => redisStore({} as never)).toThrow(ConfigError);
  });

  it('keys share one hash tag built from the store key; braces in it are escaped reversibly', () => {
    const k = keysFor('oncely:', 'billing:ab12');
    expect(k).toEqual({
      record: 'oncely:{billing:ab12}:rec',
      gone: 'oncely:{billing:ab12}:gone',
      lock: 'oncely:{billing:ab12}:lock',
      channel: 'oncely:{billing:ab12}:done',
      epoch: 'oncely:epoch',
      index: 'oncely:undecided',
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
