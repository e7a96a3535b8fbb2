import { createIdempotency, LeaseLostError, StoreUnavailableError, type WireResponse } from '@oncely/core';
import { storeContract } from '@oncely/core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisStore, redisStore } from '../src/index.js';
import { reserveInput } from './support/inputs.js';
import { type RedisServer, startRedis } from './support/redis-server.js';
import { connectShared, deletePrefix, uniquePrefix } from './support/shared-redis.js';

/**
 * Redlock mode: records on the shared Redis, the in-flight lease as a quorum lock on three
 * redis-servers this file starts, then kills (one: quorum holds; two: quorum lost).
 */
const prefix = uniquePrefix('redlock');
let records: Redis;
const lockServers: RedisServer[] = [];
const lockClients: Redis[] = [];
const stores: RedisStore[] = [];

function makeStore(): RedisStore {
  const store = redisStore({ client: records, keyPrefix: prefix, redlock: { clients: lockClients } });
  stores.push(store);
  return store;
}

async function allReady(): Promise<void> {
  await Promise.all(
    lockClients.map((c) => (c.status === 'ready' ? undefined : new Promise((r) => c.once('ready', r)))),
  );
}

async function kill(count: number): Promise<void> {
  for (const server of lockServers.slice(0, count)) await server.stop('SIGKILL');
}

async function reviveAll(): Promise<void> {
  for (const server of lockServers) if (!server.running) await server.restart();
  await allReady();
}

beforeAll(async () => {
  records = await connectShared();
  for (let i = 0; i < 3; i++) {
    const server = await startRedis();
    lockServers.push(server);
    // No offline queue: a vote from a dead master fails at once instead of waiting for a reconnect.
    const client = new Redis(server.url, { enableOfflineQueue: false, retryStrategy: () => 50 });
    client.on('error', () => undefined);
    lockClients.push(client);
  }
  await allReady();
});

afterAll(async () => {
  for (const store of stores) await store.close();
  for (const client of lockClients) client.disconnect();
  await Promise.all(lockServers.map((server) => server.destroy()));
  await deletePrefix(records, prefix);
  records.disconnect();
});

storeContract('redis + redlock (3 lock masters)', makeStore);

describe('redlock quorum', () => {
  const created: WireResponse = { status: 201, headers: {}, body: Buffer.from('{"id":"ch_1"}') };
  const request = (order: string) => ({
    method: 'POST',
    url: 'http://127.0.0.1/v1/charges',
    headers: {},
    body: JSON.stringify({ order }),
  });
  const input = (key: string) => reserveInput(key, 30_000);

  it('the lease lock lives on a distinct key on the lock masters, never the record key', async () => {
    const store = makeStore();
    const { record } = await store.reserve(input('rl:distinct'));
    const lockKey = `${prefix}{rl:distinct}:lock`;
    for (const lockClient of lockClients) expect(await lockClient.exists(lockKey)).toBe(1);
    expect(await records.exists(lockKey)).toBe(0);
    expect(await records.exists(`${prefix}{rl:distinct}:rec`)).toBe(1);
    await store.complete('rl:distinct', record.fencingToken, {
      response: { status: 201, headers: {} },
      ttlMs: 60_000,
    });
    // Completing gives the lock back.
    await expect.poll(() => lockClients[0]!.exists(lockKey)).toBe(0);
  });

  it('losing the quorum mid-call: extend and complete get LeaseLostError; the record is not written', async () => {
    const store = makeStore();
    const { record } = await store.reserve(input('rl:lost'));
    await kill(2);
    await expect(store.extend('rl:lost', record.fencingToken, 30_000)).rejects.toBeInstanceOf(LeaseLostError);
    await expect(
      store.complete('rl:lost', record.fencingToken, {
        response: { status: 201, headers: {} },
        ttlMs: 60_000,
      }),
    ).rejects.toBeInstanceOf(LeaseLostError);
    expect((await store.get('rl:lost'))?.status).toBe('in_flight');
    // Giving the lease up needs only the token: the outcome is recorded as undecided.
    await store.markUnknown('rl:lost', record.fencingToken, 'lease lock lost', 60_000);
    expect((await store.get('rl:lost'))?.status).toBe('unknown');
    await reviveAll();
  });

  it('one lock master down: the quorum holds and the call goes through once', async () => {
    const idem = createIdempotency({ store: makeStore(), namespace: 'rl' });
    await kill(1);
    let sends = 0;
    const send = async () => {
      sends++;
      return created;
    };
    const first = await idem.execute(request('one-down'), send);
    const again = await idem.execute(request('one-down'), send);
    expect(first.replayed).toBe(false);
    expect(again.replayed).toBe(true);
    expect(sends).toBe(1);
    await reviveAll();
  });

  it('two lock masters down: reserve fails closed, nothing is sent, no record is left behind', async () => {
    const store = makeStore();
    const idem = createIdempotency({ store, namespace: 'rl' });
    await kill(2);
    let sends = 0;
    const error = await idem
      .execute(request('two-down'), async () => {
        sends++;
        return created;
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(sends).toBe(0);
    const key = idem.keyFor(request('two-down'))!.key;
    expect(await store.get(key)).toBeUndefined();
    await reviveAll();
  });
  it('lock clients that queue commands while a master is down still fail closed, bounded by commandTimeout', async () => {
    const queueing = lockServers.map((server) => {
      const client = new Redis(server.url, { retryStrategy: () => 50 }); // offline queue on (the default)
      client.on('error', () => undefined);
      return client;
    });
    const store = redisStore({
      client: records,
      keyPrefix: prefix,
      commandTimeout: 300,
      redlock: { clients: queueing },
    });
    stores.push(store);
    await Promise.all(queueing.map((c) => c.ping()));
    await kill(2);
    const error = await store.reserve(input('rl:queued')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(await store.get('rl:queued')).toBeUndefined();
    for (const client of queueing) client.disconnect();
    await reviveAll();
  });
});
