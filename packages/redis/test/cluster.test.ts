import { createIdempotency, type WireResponse } from '@oncely/core';
import { storeContract } from '@oncely/core/testing';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisStore, ReservationNotConfirmedError, redisStore, StoreResetError } from '../src/index.js';
import { epochKey, keysFor } from '../src/keys.js';
import { reserveInput } from './support/inputs.js';
import { type RedisCluster, startCluster } from './support/redis-server.js';

/** One real 3-master cluster for the whole file, started and destroyed here. */
let cluster: RedisCluster;
const clients: Cluster[] = [];
const connect = async () => {
  const client = new Cluster(cluster.startupNodes);
  clients.push(client);
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve);
    client.once('error', reject);
  });
  return client;
};

beforeAll(async () => {
  cluster = await startCluster(3);
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await cluster?.destroy();
});

let contractStore: RedisStore;
storeContract(
  'redis cluster (3 masters)',
  async () => {
    contractStore = redisStore({ client: await connect(), keyPrefix: 'oncely:' });
    return contractStore;
  },
  { teardown: () => contractStore.close() },
);

describe('cluster key layout', () => {
  it('every key of one store key lands in one slot, and store keys spread over the masters', async () => {
    const client = await connect();
    const slotsOf = async (key: string) => {
      const k = keysFor('oncely:', key, true);
      return new Set(
        await Promise.all(
          [k.record, k.gone, k.lock, k.epoch, k.index].map((name) => client.cluster('KEYSLOT', name)),
        ),
      );
    };
    const ranges = await client.cluster('SLOTS');
    const masterOf = (slot: number) => ranges.find(([from, to]) => slot >= from && slot <= to)?.[2]?.[1];
    const masters = new Set<number | undefined>();
    for (let i = 0; i < 30; i++) {
      const slots = await slotsOf(`billing:${i.toString(16).padStart(64, '0')}`);
      expect(slots.size).toBe(1);
      masters.add(masterOf([...slots][0]!));
    }
    expect(masters.size).toBeGreaterThan(1);
    expect(masters.has(undefined)).toBe(false);
    // Store keys whose namespace contains braces still share one slot per key.
    expect((await slotsOf('we{ir}d:ns')).size).toBe(1);
  });

  it('two processes-worth of clients on the cluster send once for the same request', async () => {
    const a = redisStore({ client: await connect(), keyPrefix: 'e2e:' });
    const b = redisStore({ client: await connect(), keyPrefix: 'e2e:' });
    let sends = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const send = async (): Promise<WireResponse> => {
      sends++;
      await gate;
      return { status: 201, headers: {}, body: Buffer.from('ok') };
    };
    const request = { method: 'POST', url: 'http://127.0.0.1/v1/orders', headers: {}, body: '{"n":1}' };
    const first = createIdempotency({ store: a, namespace: 'cl' }).execute(request, send);
    const second = createIdempotency({ store: b, namespace: 'cl' }).execute(request, send);
    await expect.poll(() => sends).toBe(1);
    release();
    const results = await Promise.all([first, second]);
    expect(sends).toBe(1);
    expect(results.map((r) => r.replayed).sort()).toEqual([false, true]);
    await Promise.all([a.close(), b.close()]);
  });
});

describe("cluster: store epoch per slot, WAIT on the record's master", () => {
  const input = (key: string) => reserveInput(key);

  it("a master that loses its data resets only its own slots' epochs", async () => {
    const client = await connect();
    const store = redisStore({ client, keyPrefix: 'creset:', resetWindow: 60_000 });
    const ranges = await client.cluster('SLOTS');
    const portOf = async (name: string) => {
      const slot = await client.cluster('KEYSLOT', name);
      return ranges.find(([from, to]) => slot >= from && slot <= to)![2]![1] as number;
    };
    // Two store keys on different masters; each key's epoch key is in the record's own slot.
    const keys: string[] = [];
    const ports: number[] = [];
    for (let i = 0; keys.length < 2; i++) {
      const key = `cr:${i.toString(16).padStart(64, '0')}`;
      const port = await portOf(keysFor('creset:', key).record);
      expect(await portOf(epochKey('creset:', key, true))).toBe(port);
      if (!ports.includes(port)) {
        keys.push(key);
        ports.push(port);
      }
    }
    for (const key of keys) {
      const { record } = await store.reserve(input(key));
      await store.release(key, record.fencingToken);
    }
    const node = new Redis({ port: ports[0]!, host: '127.0.0.1' });
    try {
      await node.flushall();
    } finally {
      node.disconnect();
    }
    await expect(store.reserve(input(keys[0]!))).rejects.toBeInstanceOf(StoreResetError);
    expect((await store.reserve(input(keys[1]!))).acquired).toBe(true);
    await store.close();
  });

  it("durability { replicas: 1 } runs WAIT on the record's master (no replicas here: refused, given back)", async () => {
    const store = redisStore({
      client: await connect(),
      keyPrefix: 'cwait:',
      durability: { replicas: 1, timeout: 100 },
    });
    const error = await store.reserve(input('cw:1')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReservationNotConfirmedError);
    expect((error as Error).message).toMatch(/WAIT 1 100 answered 0/);
    expect(await store.get('cw:1')).toBeUndefined();
    await store.close();
  });
});
