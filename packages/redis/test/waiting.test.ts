import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisStore } from '../src/index.js';
import { keysFor } from '../src/keys.js';
import { reserveInput } from './support/inputs.js';
import { editRecord } from './support/records.js';
import { connectShared, deletePrefix, uniquePrefix } from './support/shared-redis.js';

const prefix = uniquePrefix('waiting');
const input = (key: string) => reserveInput(key, 60_000);

describe('waitFor', () => {
  let client: Redis;

  beforeAll(async () => {
    client = await connectShared();
  });

  afterAll(async () => {
    await deletePrefix(client, prefix);
    client.disconnect();
  });

  it('finds the outcome by its bounded fallback poll when no wake-up message comes', async () => {
    const store = redisStore({ client, keyPrefix: prefix, pollInterval: 50 });
    const { record } = await store.reserve(input('poll:1'));
    const waiting = store.waitFor('poll:1', 20_000);
    // Settle the record behind the store's back: no PUBLISH, so only the poll can notice.
    await editRecord(client, prefix, 'poll:1', (r) => {
      r.status = 'completed';
      r.leaseUntil = null;
    });
    const seen = await waiting;
    expect(seen?.status).toBe('completed');
    expect(seen?.fencingToken).toBe(record.fencingToken);
    await store.close();
  });

  it('returns the in_flight record when aborted', async () => {
    const store = redisStore({ client, keyPrefix: prefix });
    await store.reserve(input('abort:1'));
    const controller = new AbortController();
    const waiting = store.waitFor('abort:1', 20_000, controller.signal);
    controller.abort();
    expect((await waiting)?.status).toBe('in_flight');
    await store.close();
  });

  it('close() ends the subscriber the store opened, never the caller’s client', async () => {
    const store = redisStore({ client, keyPrefix: prefix });
    const { record } = await store.reserve(input('close:1'));
    const waiting = store.waitFor('close:1', 20_000);
    const subscribed = async () => (await client.pubsub('NUMSUB', keysFor(prefix, 'close:1').channel))[1];
    await expect.poll(subscribed).toBe(1);
    await store.complete('close:1', record.fencingToken, {
      response: { status: 201, headers: {} },
      ttlMs: 60_000,
    });
    expect((await waiting)?.status).toBe('completed');
    await store.close();
    await expect
      .poll(async () => (await client.pubsub('NUMSUB', keysFor(prefix, 'close:1').channel))[1])
      .toBe(0);
    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
  });
});
