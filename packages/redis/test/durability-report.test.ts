import { ConfigError, createIdempotency } from '@oncely/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { type RedisStore, redisStore, type StoreEvent, StoreNotDurableError } from '../src/index.js';
import { countingSend, orderRequest } from './support/inputs.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

/**
 * What the store reports about Redis' persistence at first use, on real redis-servers of this file
 * started with different settings, and what `requireDurable` does with it.
 */
const servers: RedisServer[] = [];
const clients: Redis[] = [];
const stores: RedisStore[] = [];

afterAll(async () => {
  for (const store of stores) await store.close();
  for (const client of clients) client.disconnect();
  await Promise.all(servers.map((server) => server.destroy()));
});

async function serverWith(args: string[]) {
  const server = await startRedis({ args });
  servers.push(server);
  const client = new Redis(server.url);
  clients.push(client);
  return { server, client };
}

function storeOn(client: Redis, options: Partial<Parameters<typeof redisStore>[0]> = {}) {
  const store = redisStore({ client, keyPrefix: 'dur:', ...options });
  stores.push(store);
  const events: StoreEvent[] = [];
  store.onStoreEvent((event) => events.push(event));
  return { store, events };
}

const request = orderRequest;

describe('persistence at first use', () => {
  it('no AOF and no RDB (save "", appendonly no): the first use reports store-not-durable', async () => {
    const { client } = await serverWith(['--save', '', '--appendonly', 'no']);
    const { store, events } = storeOn(client);
    const send = countingSend();
    const idem = createIdempotency({ store, namespace: 'dur' });

    // Without requireDurable the write still goes through: the report is read off the call's path.
    await idem.execute(request('not-durable'), send);
    expect(send.calls).toBe(1);
    await expect.poll(() => events.map((event) => event.type)).toEqual(['store-not-durable']);
    expect(events[0]!.detail).toMatch(/no AOF \(appendonly no\), no RDB snapshots \(save ""\)/);
    expect(events[0]!.detail).toMatch(/A restart would forget every reservation/);

    expect(await store.persistence()).toMatchObject({
      durable: false,
      aof: false,
      rdb: false,
      evicts: false,
    });
    // A listener added later (an engine created after the first use) is told too.
    const late: StoreEvent[] = [];
    store.onStoreEvent((event) => late.push(event));
    await expect.poll(() => late.map((event) => event.type)).toEqual(['store-not-durable']);
  });

  it('requireDurable on a Redis without persistence: the first execute fails typed and nothing is sent', async () => {
    const { client } = await serverWith(['--save', '', '--appendonly', 'no']);
    const { store } = storeOn(client, { requireDurable: true });
    const send = countingSend();
    const idem = createIdempotency({ store, namespace: 'dur' });

    const error = await idem.execute(request('refused'), send).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreNotDurableError);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: 'ONCELY_CONFIG', report: { durable: false } });
    expect((error as Error).message).toMatch(/Nothing was sent/);
    expect((error as Error).message).toMatch(/appendonly yes/);
    expect(send.calls).toBe(0);
    // Nothing was written either: not the record, not even the epoch.
    expect(await client.dbsize()).toBe(0);
  });

  it('AOF on (appendonly yes): durable, nothing reported, requireDurable lets the write through', async () => {
    const { client } = await serverWith(['--appendonly', 'yes']);
    const { store, events } = storeOn(client, { requireDurable: true });
    const send = countingSend();
    await createIdempotency({ store, namespace: 'dur' }).execute(request('aof'), send);
    expect(send.calls).toBe(1);
    const report = await store.persistence();
    expect(report).toMatchObject({ durable: true, aof: true, rdb: false });
    expect(report.detail).toMatch(/AOF on \(appendfsync everysec\)/);
    expect(events).toEqual([]);
  });

  it('RDB snapshots only (save "60 1"): durable', async () => {
    const { client } = await serverWith(['--save', '60 1', '--appendonly', 'no']);
    const { store } = storeOn(client);
    expect(await store.persistence()).toMatchObject({ durable: true, aof: false, rdb: true });
  });

  it('CONFIG disabled (rename-command CONFIG ""): judged from INFO alone', async () => {
    const aof = await serverWith(['--appendonly', 'yes', '--rename-command', 'CONFIG', '']);
    const withAof = await storeOn(aof.client).store.persistence();
    expect(withAof).toMatchObject({ durable: true, aof: true });
    expect(withAof.detail).toMatch(/CONFIG GET refused/);

    // No AOF, and RDB cannot be read: not confirmed, so requireDurable refuses (fail closed).
    const bare = await serverWith(['--save', '', '--appendonly', 'no', '--rename-command', 'CONFIG', '']);
    const report = await storeOn(bare.client).store.persistence();
    expect(report).toMatchObject({ durable: false, aof: false, rdb: false });
    expect(report.detail).toMatch(/RDB snapshots not confirmed \(CONFIG GET refused/);
    const send = countingSend();
    const strict = storeOn(bare.client, { requireDurable: true }).store;
    const error = await createIdempotency({ store: strict, namespace: 'dur' })
      .execute(request('no-config'), send)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreNotDurableError);
    expect(send.calls).toBe(0);
  });

  it('an evicting Redis (maxmemory with allkeys-lru) is not durable either: records can vanish', async () => {
    const { client } = await serverWith([
      '--appendonly',
      'yes',
      '--maxmemory',
      '64mb',
      '--maxmemory-policy',
      'allkeys-lru',
    ]);
    const report = await storeOn(client).store.persistence();
    expect(report).toMatchObject({ durable: false, aof: true, evicts: true });
    expect(report.detail).toMatch(/maxmemory-policy allkeys-lru/);
  });
});
