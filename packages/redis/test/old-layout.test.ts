import { ConfigError, createIdempotency, type WireResponse } from '@oncely/core';
import { describe, expect, it } from 'vitest';
import { redisStore } from '../src/index.js';
import { keysFor } from '../src/keys.js';
import { reserveInput } from './support/inputs.js';
import { sharedClientFor, uniquePrefix } from './support/shared-redis.js';

/** A record left by @oncely/redis 0.1 (a hash) under the same key: a configuration fault, never an outage. */
describe('a key of another layout under the prefix', () => {
  const prefix = uniquePrefix('old-layout');
  const shared = sharedClientFor(prefix);

  it('is a ConfigError, and fail-open does not bypass it: nothing is sent', async () => {
    const { client } = shared;
    const store = redisStore({ client, keyPrefix: prefix });
    const idem = createIdempotency({ store, namespace: 'old', onStoreError: 'fail-open' });
    const request = { method: 'POST', url: 'https://api.test/v1/charges', headers: {}, body: '{"order":1}' };
    const { key } = idem.keyFor(request)!;
    await client.hset(keysFor(prefix, key).record, 'status', 'completed', 'response', '{"status":201}');
    await expect(store.reserve(reserveInput(key))).rejects.toBeInstanceOf(ConfigError);
    let sends = 0;
    const created: WireResponse = { status: 201, headers: {}, body: Buffer.from('{}') };
    const error = await idem
      .execute(request, async () => {
        sends++;
        return created;
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(String((error as Error).message)).toMatch(/Nothing was sent/);
    expect(sends).toBe(0);
    await idem.close();
    await store.close();
  });

  it('an owner with a newline is refused before anything is written', async () => {
    const { client } = shared;
    const store = redisStore({ client, keyPrefix: prefix });
    await expect(store.reserve({ ...reserveInput('ns:nl'), owner: 'a\nb' })).rejects.toBeInstanceOf(
      ConfigError,
    );
    expect(await client.exists(keysFor(prefix, 'ns:nl').record)).toBe(0);
    await store.close();
  });
});
