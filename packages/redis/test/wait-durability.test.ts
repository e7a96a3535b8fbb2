import { ConfigError, createIdempotency, StoreUnavailableError } from '@oncely/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RedisStore, ReservationNotConfirmedError, redisStore } from '../src/index.js';
import { callsBetween, commandCalls } from './support/commandstats.js';
import { countingSend, orderRequest, reserveInput } from './support/inputs.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

/**
 * `durability`: each grant is confirmed (WAIT for replicas, WAITAOF for the AOF) before the engine
 * may send. A real primary with a real replica (`--replicaof`), both on free ports.
 */
let primary: RedisServer;
let replica: RedisServer;
let client: Redis;
let replicaClient: Redis;
const stores: RedisStore[] = [];

async function linkUp(): Promise<void> {
  await vi.waitFor(
    async () => {
      expect(await replicaClient.info('replication')).toContain('master_link_status:up');
    },
    { timeout: 20_000, interval: 50 },
  );
}

beforeAll(async () => {
  primary = await startRedis({ args: ['--appendonly', 'no'] });
  replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  client = new Redis(primary.url);
  replicaClient = new Redis(replica.url, { retryStrategy: () => 50 });
  replicaClient.on('error', () => undefined); // the replica is stopped in one test
  await linkUp();
});

afterAll(async () => {
  for (const store of stores) await store.close();
  client.disconnect();
  replicaClient.disconnect();
  await replica.destroy();
  await primary.destroy();
});

function storeWith(prefix: string, options: Partial<Parameters<typeof redisStore>[0]> = {}) {
  const store = redisStore({ client, keyPrefix: prefix, ...options });
  stores.push(store);
  return store;
}

const request = orderRequest;

describe('durability: confirmed reservations', () => {
  it('{ replicas: 1 }: the reservation is on the replica before the send (one WAIT per grant)', async () => {
    const store = storeWith('wait-1:', { durability: { replicas: 1 } });
    const idem = createIdempotency({ store, namespace: 'wait' });
    const send = countingSend();
    await idem.execute(request('warm-up'), send); // loads the scripts on this connection
    const before = await commandCalls(client);
    const result = await idem.execute(request('confirmed'), send);
    const delta = callsBetween(before, await commandCalls(client));
    expect(send.calls).toBe(2);
    expect(result.replayed).toBe(false);
    expect(delta).toMatchObject({ evalsha: 2, wait: 1 });
    // The replica has the record the primary has.
    await expect.poll(() => replicaClient.exists(`wait-1:{${result.key}}:rec`)).toBe(1);
  });

  it('more replicas than acknowledge in time: the reservation is given back, nothing sent', async () => {
    const store = storeWith('wait-2:', { durability: { replicas: 2, timeout: 200 } });
    const idem = createIdempotency({ store, namespace: 'wait' });
    const send = countingSend();
    const error = await idem.execute(request('two-replicas'), send).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReservationNotConfirmedError);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/WAIT 2 200 answered 1/);
    expect((error as Error).message).toMatch(/given back and nothing was sent/);
    expect(send.calls).toBe(0);
    const key = idem.keyFor(request('two-replicas'))!.key;
    expect(await store.get(key)).toBeUndefined(); // released: the key is free for a retry
  });

  it('the replica down: { replicas: 1 } fails closed, and works again once the replica is back', async () => {
    const store = storeWith('wait-down:', { durability: { replicas: 1, timeout: 200 } });
    const idem = createIdempotency({ store, namespace: 'wait' });
    const send = countingSend();
    await replica.stop();
    await expect
      .poll(async () => (await client.info('replication')).includes('connected_slaves:0'))
      .toBe(true);
    const error = await idem.execute(request('replica-down'), send).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReservationNotConfirmedError);
    expect(send.calls).toBe(0);

    await replica.restart();
    await linkUp();
    await idem.execute(request('replica-down'), send);
    expect(send.calls).toBe(1);
  });

  it("'aof' on Redis 7.0 (no WAITAOF): a typed error before anything is reserved or sent", async () => {
    const info = await client.info('server');
    const version = /redis_version:(\S+)/.exec(info)![1]!;
    const store = storeWith('wait-aof:', { durability: 'aof' });
    const idem = createIdempotency({ store, namespace: 'wait' });
    const send = countingSend();
    const error = await idem.execute(request('aof'), send).catch((e: unknown) => e);
    expect(send.calls).toBe(0);
    expect(await store.get(idem.keyFor(request('aof'))!.key)).toBeUndefined();
    if (Number(version.split('.')[0]) * 100 + Number(version.split('.')[1]) >= 702) {
      // A 7.2+ server: the option needs AOF on, which this primary does not have.
      expect((error as Error).message).toMatch(/needs AOF on every master/);
      return;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/WAITAOF, which needs Redis 7\.2 or later; this Redis is 7\.0/);
    expect((error as Error).message).toMatch(/Nothing was sent/);
  });

  it('cost: reserve + release with and without WAIT, interleaved (logged, not asserted)', async () => {
    const plain = storeWith('wait-cost-plain:');
    const waited = storeWith('wait-cost-wait:', { durability: { replicas: 1 } });
    const input = (key: string) => reserveInput(key);
    const time = async (store: RedisStore, key: string) => {
      const started = performance.now();
      const { record } = await store.reserve(input(key));
      const reserved = performance.now() - started;
      await store.release(key, record.fencingToken);
      return reserved;
    };
    await time(plain, 'cost:warm');
    await time(waited, 'cost:warm');
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < 200; i++) {
      a.push(await time(plain, `cost:${i}`));
      b.push(await time(waited, `cost:${i}`));
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
    const p99 = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length * 0.99)]!;
    console.log(
      `reserve round trip (ms, n=200 each, interleaved): plain median ${median(a).toFixed(3)} p99 ${p99(a).toFixed(3)}; ` +
        `WAIT 1 median ${median(b).toFixed(3)} p99 ${p99(b).toFixed(3)}`,
    );
    expect(a).toHaveLength(200);
  });
});
