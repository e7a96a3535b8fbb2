import type { ReserveInput, StoredResponse } from '@oncely/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisStore, redisStore } from '../src/index.js';
import { callsBetween, commandCalls } from './support/commandstats.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

/**
 * The Redis commands each transition's script runs inside Redis, counted by `INFO commandstats`
 * on a redis-server of our own (nothing else adds to it). The numbers are today's: they document
 * what a transition costs, and a change that lowers (or raises) one has to say so here.
 * Next to round-trips.test.ts, which pins the round trips (one EVALSHA per transition).
 */
const PINNED = {
  'reserve (fresh)': { total: 5, commands: { time: 1, get: 1, incr: 1, set: 1, zadd: 1 } },
  'reserve (existing: replay)': { total: 2, commands: { time: 1, get: 1 } },
  complete: { total: 3, commands: { get: 1, set: 1, zrem: 1 } },
  extend: { total: 3, commands: { time: 1, get: 1, set: 1 } },
  markUnknown: { total: 4, commands: { time: 1, get: 1, set: 1, zadd: 1 } },
  release: { total: 4, commands: { time: 1, get: 1, del: 1, zrem: 1 } },
  takeOver: { total: 5, commands: { time: 1, get: 1, incr: 1, set: 1, zadd: 1 } },
};
type Transition = keyof typeof PINNED;

/** A ttl other than the reservation's, as an engine may ask (the counts do not depend on it). */
const LONGER_TTL_MS = 120_000;

// The test's own probes.
const PROBES = new Set(['info']);

describe('Redis commands run inside each transition script (INFO commandstats on a private redis-server)', () => {
  let server: RedisServer;
  let client: Redis;
  let probe: Redis;
  let store: RedisStore;
  let counter = 0;
  let warm = false;

  beforeAll(async () => {
    server = await startRedis();
    client = new Redis(server.url);
    probe = new Redis(server.url);
    // Without the in-process copies of completed records: the counts are the scripts' own.
    store = redisStore({ client, keyPrefix: 'sc:', cache: false });
  });

  afterAll(async () => {
    await store.close();
    client.disconnect();
    probe.disconnect();
    await server.destroy();
  });

  const response: StoredResponse = { status: 201, headers: {}, body: 'e30=' };
  const input = (key: string, owner: string): ReserveInput => ({
    key,
    scope: 'scope',
    fingerprint: 'fp',
    method: 'POST',
    target: 'https://api.test/v1/charges',
    owner,
    leaseMs: 10_000,
    ttlMs: 60_000,
  });

  /** The commands `call` made Redis run, without the EVALSHA that carried them (asserted to be one). */
  async function inside(
    call: () => Promise<unknown>,
  ): Promise<{ total: number; commands: Record<string, number> }> {
    const before = await commandCalls(probe);
    await call();
    const delta = callsBetween(before, await commandCalls(probe));
    const { evalsha, eval: evalCalls, ...rest } = delta;
    // ioredis sends a script's first call on a connection as EVAL; after the warm-up, always EVALSHA.
    if (warm) expect({ evalsha, evalCalls }).toEqual({ evalsha: 1, evalCalls: undefined });
    const commands = Object.fromEntries(Object.entries(rest).filter(([name]) => !PROBES.has(name)));
    return { total: Object.values(commands).reduce((sum, n) => sum + n, 0), commands };
  }

  /** Every transition once, on fresh keys, each measured on its own. */
  async function measureAll(): Promise<Record<Transition, Awaited<ReturnType<typeof inside>>>> {
    const key = () => `ns:k${++counter}`;
    const a = key();
    const fresh = await inside(() => store.reserve(input(a, 'owner-a')));
    const { record } = await store.reserve(input(a, 'owner-a'));
    const extend = await inside(() => store.extend(a, record.fencingToken, 20_000));
    const complete = await inside(() =>
      store.complete(a, record.fencingToken, { response, ttlMs: LONGER_TTL_MS }),
    );
    const replay = await inside(() => store.reserve(input(a, 'owner-b')));

    const b = key();
    const held = (await store.reserve(input(b, 'owner-a'))).record;
    const release = await inside(() => store.release(b, held.fencingToken));

    const c = key();
    const stuck = (await store.reserve(input(c, 'owner-a'))).record;
    const markUnknown = await inside(() =>
      store.markUnknown(c, stuck.fencingToken, 'socket hang up', LONGER_TTL_MS),
    );
    const takeOver = await inside(() =>
      store.takeOver(c, {
        expectedToken: stuck.fencingToken,
        expectedStatus: 'unknown',
        owner: 'owner-b',
        leaseMs: 10_000,
        ttlMs: 60_000,
        audit: { at: Date.now(), action: 'takeover', detail: 'unknown' },
      }),
    );
    return {
      'reserve (fresh)': fresh,
      'reserve (existing: replay)': replay,
      complete,
      extend,
      markUnknown,
      release,
      takeOver,
    };
  }

  it('are pinned per transition', async () => {
    // Warm-up: each script's first call (EVAL), the first grant (creates the store epoch), and the
    // store's first read of the persistence settings (in the background) are not counted.
    await measureAll();
    await store.persistence();
    warm = true;

    const measured = await measureAll();
    console.log('commands inside each transition script', measured);
    expect(measured).toEqual(PINNED);
    // Issue 15's budget: a fresh write (reserve + complete) at most 8, a replay at most 2.
    expect(measured['reserve (fresh)'].total + measured.complete.total).toBeLessThanOrEqual(8);
    expect(measured['reserve (existing: replay)'].total).toBeLessThanOrEqual(2);
  });
});
