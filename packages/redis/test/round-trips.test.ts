import { createIdempotency, type WireResponse } from '@oncely/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisStore, redisStore } from '../src/index.js';
import { callsBetween, commandCalls } from './support/commandstats.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

/**
 * Round trips counted by the server: on a redis-server of our own, nothing else adds to
 * `INFO commandstats`. Each script call is one EVALSHA; the commands it runs inside Redis are
 * counted under their own names and are not round trips.
 */
const SCRIPT_INTERNAL = new Set([
  'time',
  'hget',
  'hmget',
  'hgetall',
  'hset',
  'hdel',
  'hincrby',
  'del',
  'exists',
  'get',
  'set',
  'pexpireat',
  'pexpiretime',
  'publish',
  'zadd',
  'zrem',
  'incr',
]);
// The test's own probes.
const PROBES = new Set(['info', 'config|resetstat']);

describe('round trips per call (INFO commandstats on a private redis-server)', () => {
  let server: RedisServer;
  let client: Redis;
  let probe: Redis;
  let store: RedisStore;
  let other: RedisStore;

  beforeAll(async () => {
    server = await startRedis();
    client = new Redis(server.url);
    probe = new Redis(server.url);
    store = redisStore({ client, keyPrefix: 'rt:' });
    // Another process's store: its own connection and its own copies of completed records.
    other = redisStore({ client: client.duplicate(), keyPrefix: 'rt:' });
  });

  afterAll(async () => {
    await store.close();
    await other.close();
    client.disconnect();
    probe.disconnect();
    await server.destroy();
  });

  const request = (id: string) => ({
    method: 'POST',
    url: 'http://127.0.0.1/v1/charges',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ order: id }),
  });
  const created: WireResponse = { status: 201, headers: {}, body: Buffer.from('{"id":"ch_1"}') };

  /** Runs `call` and returns the client commands (round trips) and script-internal commands it caused. */
  async function measure(call: () => Promise<unknown>) {
    const before = await commandCalls(probe);
    await call();
    const delta = callsBetween(before, await commandCalls(probe));
    const roundTrips: Record<string, number> = {};
    for (const [command, calls] of Object.entries(delta)) {
      if (!SCRIPT_INTERNAL.has(command) && !PROBES.has(command)) roundTrips[command] = calls;
    }
    return roundTrips;
  }

  it('a fresh write costs 2 round trips (reserve + complete), a replay 1 (reserve), a replay in the writing process 0', async () => {
    // Separate engines: the replayers cannot coalesce with the writer.
    const writer = createIdempotency({ store, namespace: 'rt' });
    const replayer = createIdempotency({ store: other, namespace: 'rt' });
    const sameProcess = createIdempotency({ store, namespace: 'rt' });
    let sends = 0;
    const send = async () => {
      sends++;
      return created;
    };
    // Warm-up: the first EVALSHA of each script is answered NOSCRIPT and retried as EVAL.
    await writer.execute(request('warm-up'), send);
    await replayer.execute(request('warm-up'), send);
    // Both stores keep completed records once they listen for changes (one SUBSCRIBE each, once).
    await expect.poll(async () => (await probe.pubsub('NUMSUB', 'rt:changed'))[1]).toBe(2);

    const fresh = await measure(() => writer.execute(request('order-1'), send));
    const replay = await measure(() => replayer.execute(request('order-1'), send));
    const local = await measure(() => sameProcess.execute(request('order-1'), send));
    console.log('round trips', { fresh, replay, local });

    expect(fresh).toEqual({ evalsha: 2 });
    expect(replay).toEqual({ evalsha: 1 });
    expect(local).toEqual({});
    expect(sends).toBe(2); // warm-up + order-1: the replays sent nothing
  });
});
