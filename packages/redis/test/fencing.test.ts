import {
  createIdempotency,
  type IdempotencyStore,
  LeaseLostError,
  type OncelyEvent,
  StoreUnavailableError,
  type WireResponse,
} from '@oncely/core';
import { wrapStore } from '@oncely/core/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisStore, redisStore } from '../src/index.js';
import { keysFor } from '../src/keys.js';
import { reserveInput } from './support/inputs.js';
import { editRecord } from './support/records.js';
import { connectShared, deletePrefix, uniquePrefix } from './support/shared-redis.js';

const prefix = uniquePrefix('fencing');
const created: WireResponse = { status: 201, headers: {}, body: Buffer.from('{"id":"ch_1"}') };
const stored = { status: 201, headers: {}, body: Buffer.from('late').toString('base64') };

describe('fencing with a real lease expiry', () => {
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

  it('a holder whose lease expired and was taken over gets LeaseLostError; the caller still gets its live response', async () => {
    const events: OncelyEvent[] = [];
    // The stale holder's process stalls: its lease extensions never reach Redis.
    const stalled: IdempotencyStore = {
      ...wrapStore(store),
      extend: () => Promise.reject(new StoreUnavailableError('extend', new Error('stalled'))),
    };
    const idem = createIdempotency({ store: stalled, lease: '150ms', onEvent: (e) => events.push(e) });
    let finishSend: () => void = () => undefined;
    const sendGate = new Promise<void>((resolve) => {
      finishSend = resolve;
    });
    const request = { method: 'POST', url: 'http://127.0.0.1/v1/charges', headers: {}, body: '{"n":1}' };
    const stale = idem.execute(request, async () => {
      await sendGate;
      return created;
    });
    await expect.poll(() => events.some((e) => e.type === 'sent')).toBe(true);
    const key = idem.keyFor(request)!.key;
    const before = (await store.get(key))!;

    // Another owner waits for the real expiry (woken by the store), then takes over.
    const expired = await store.waitFor(key, 10_000);
    expect(expired?.leaseUntil).toBeLessThanOrEqual(Date.now());
    const taken = await store.takeOver(key, {
      expectedToken: before.fencingToken,
      expectedStatus: 'in_flight',
      owner: 'new-owner',
      leaseMs: 30_000,
      ttlMs: 60_000,
      audit: { at: Date.now(), action: 'takeover', detail: 'lease-expired' },
    });
    expect(taken.won).toBe(true);

    finishSend();
    const result = await stale;
    expect(result.response.status).toBe(201);
    expect(result.replayed).toBe(false);
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'record-not-written', reason: 'lease-lost', operation: 'complete' }),
    );
    // The new owner's record was not overwritten.
    const current = await store.get(key);
    expect(current).toMatchObject({
      status: 'in_flight',
      leaseOwner: 'new-owner',
      fencingToken: taken.record!.fencingToken,
    });
    await store.complete(key, taken.record!.fencingToken, { response: stored, ttlMs: 60_000 });
    expect((await store.get(key))?.response).toEqual(stored);
  });

  it('the owner is checked with the token: the same token under another owner is refused', async () => {
    const key = 'fence:owner';
    const { record } = await store.reserve({
      key,
      scope: 's',
      fingerprint: 'f',
      method: 'POST',
      target: 't',
      owner: 'owner-a',
      leaseMs: 30_000,
      ttlMs: 60_000,
    });
    // As if the lease had passed to another owner under an equal token (which tokens alone would not catch).
    await editRecord(client, prefix, key, (r) => {
      r.leaseOwner = 'owner-b';
    });
    await expect(
      store.complete(key, record.fencingToken, { response: stored, ttlMs: 60_000 }),
    ).rejects.toBeInstanceOf(LeaseLostError);
    expect((await store.get(key))?.status).toBe('in_flight');
  });

  it('tokens never repeat for a key, even after its record was released and its epoch lost', async () => {
    const key = 'fence:tokens';
    const input = reserveInput(key, 30_000);
    const first = await store.reserve(input);
    await store.release(key, first.record.fencingToken);
    const second = await store.reserve(input);
    expect(second.record.fencingToken).toBeGreaterThan(first.record.fencingToken);
    await store.release(key, second.record.fencingToken);
    // The token is the epoch's generation, seeded from Redis' clock in µs: a store that starts
    // on an epoch written anew does not hand out an old token again.
    const own = uniquePrefix('fence-epoch');
    const before = redisStore({ client, keyPrefix: own });
    const old = await before.reserve(input);
    await before.release(key, old.record.fencingToken);
    await client.del(keysFor(own, key).epoch);
    const after = redisStore({ client, keyPrefix: own });
    const renewed = await after.reserve(input);
    expect(renewed.record.fencingToken).toBeGreaterThan(old.record.fencingToken);
    await expect(after.release(key, old.record.fencingToken)).rejects.toBeInstanceOf(LeaseLostError);
    await Promise.all([before.close(), after.close()]);
    await deletePrefix(client, own);
  });
});
