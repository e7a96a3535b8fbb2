import { ConfigError } from '@oncely/core';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisStore } from '../src/index.js';
import { keysFor, recordPattern, storeKeyOf } from '../src/keys.js';
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

  it('the SCAN pattern escapes glob characters of the prefix', () => {
    expect(recordPattern('a*b:')).toBe('a\\*b:{*}:rec');
    expect(recordPattern('p:', 'billing')).toBe('p:{billing:*}:rec');
  });
});
