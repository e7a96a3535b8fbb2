import { createIdempotency, type IdempotencyRecord, type OncelyEvent } from '@oncely/core';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisStore, redisStore } from '../src/index.js';
import { keysFor } from '../src/keys.js';
import { connectShared, deletePrefix, uniquePrefix } from './support/shared-redis.js';

const prefix = uniquePrefix('expired-unknown');
const input = (key: string, ttlMs: number, leaseMs = 30_000) => ({
  key,
  scope: 's',
  fingerprint: 'f',
  method: 'POST',
  target: 'https://api.example.com/v1/charges',
  owner: 'o',
  leaseMs,
  ttlMs,
});

describe('records that expire undecided', () => {
  let client: Redis;
  let store: RedisStore;

  beforeAll(async () => {
    client = await connectShared();
    store = redisStore({ client, keyPrefix: prefix });
  });

  afterAll(async () => {
    await store.close();
    await deletePrefix(client, prefix);
    client.disconnect();
  });

  it('every record carries a Redis expiry, unknown ones included', async () => {
    const { record } = await store.reserve(input('ttl:unknown', 60_000));
    await store.markUnknown('ttl:unknown', record.fencingToken, 'ECONNRESET', 60_000);
    const k = keysFor(prefix, 'ttl:unknown');
    // Undecided, it lingers for the grace past its expiry (read as gone), so a sweep can report it.
    expect(await client.pttl(k.record)).toBeGreaterThan(60_000);
    expect(await client.zscore(k.index, k.record)).not.toBeNull();
  });

  it('an unknown record that expired is reported once to onExpiredUnknown (and as an engine event)', async () => {
    const seen: IdempotencyRecord[] = [];
    const events: OncelyEvent[] = [];
    const stop = store.onExpiredUnknown((record) => seen.push(record));
    const idem = createIdempotency({ store, namespace: 'exp', onEvent: (event) => events.push(event) });

    const { record } = await store.reserve(input('exp:undecided', 60_000));
    await store.markUnknown('exp:undecided', record.fencingToken, 'HTTP 502', 100);
    // A completed record that expires is not news.
    const done = await store.reserve(input('exp:done', 60_000));
    await store.complete('exp:done', done.record.fencingToken, {
      response: { status: 201, headers: {} },
      ttlMs: 100,
    });
    // Nor is one still live.
    await store.reserve(input('exp:live', 60_000));

    await expect.poll(() => store.get('exp:undecided'), { timeout: 5_000 }).toBeUndefined();
    await expect.poll(() => store.get('exp:done'), { timeout: 5_000 }).toBeUndefined();
    expect(await store.purgeExpired()).toBe(1);
    expect(seen.map((r) => [r.key, r.status])).toEqual([['exp:undecided', 'unknown']]);
    expect(seen[0]?.audit.at(-1)).toMatchObject({ action: 'unknown', detail: 'HTTP 502' });
    expect(events).toContainEqual(expect.objectContaining({ type: 'unknown-expired', key: 'exp:undecided' }));
    // Reported once.
    expect(await store.purgeExpired()).toBe(0);
    stop();
    await idem.close();
  });

  it('an in_flight record whose owner died (lease expired) and then expired is reported as well', async () => {
    const seen: IdempotencyRecord[] = [];
    const stop = store.onExpiredUnknown((record) => seen.push(record));
    await store.reserve(input('exp:orphan', 150, 50));
    await expect.poll(() => store.get('exp:orphan'), { timeout: 5_000 }).toBeUndefined();
    expect(await store.purgeExpired()).toBe(1);
    expect(seen.map((r) => r.key)).toEqual(['exp:orphan']);
    stop();
  });

  it('an undecided record that expired is still reported when its key was reserved again before the sweep', async () => {
    const seen: IdempotencyRecord[] = [];
    const stop = store.onExpiredUnknown((record) => seen.push(record));
    const first = await store.reserve(input('exp:again', 60_000));
    await store.markUnknown('exp:again', first.record.fencingToken, 'ETIMEDOUT', 100);
    await expect.poll(() => store.get('exp:again'), { timeout: 5_000 }).toBeUndefined();
    const second = await store.reserve(input('exp:again', 60_000));
    expect(second.acquired).toBe(true);
    expect(await store.purgeExpired()).toBe(1);
    expect(seen.map((r) => [r.key, r.status, r.fencingToken])).toEqual([
      ['exp:again', 'unknown', first.record.fencingToken],
    ]);
    // The new reservation is live, not reported.
    expect(await store.purgeExpired()).toBe(0);
    stop();
  });
});
