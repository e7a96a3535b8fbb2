import { ConfigError, type MemoryStore, memoryStore, type ReserveInput } from '@oncely/core';
import { storeContract } from '@oncely/core/testing';

const store = memoryStore();
storeContract('memory', () => store, { teardown: () => store.close() });

import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

describe('memory store copies', () => {
  it('records handed out cannot change the stored record', async () => {
    const local = memoryStore();
    const { record } = await local.reserve({
      key: 'copies:k',
      scope: 's',
      fingerprint: 'f',
      method: 'POST',
      target: 't',
      owner: 'o',
      leaseMs: 60_000,
      ttlMs: 60_000,
    });
    const response = { status: 200, headers: { 'x-a': ['1'] }, body: '' };
    const done = await local.complete('copies:k', record.fencingToken, { response, ttlMs: 60_000 });
    (done.response!.headers['x-a'] as string[]).push('2');
    done.audit.push({ at: 0, action: 'unknown' });
    response.headers['x-a'].push('3');
    const again = await local.get('copies:k');
    expect(again?.response?.headers).toEqual({ 'x-a': ['1'] });
    expect(again?.audit).toEqual([]);
    local.close();
  });
});

describe('memory store bound (maxRecords): LRU over completed records only', () => {
  const TTL = 60_000;
  const RESPONSE = { status: 201, headers: {}, body: '' };
  const opened: MemoryStore[] = [];
  const bounded = (options: Parameters<typeof memoryStore>[0]) => {
    const made = memoryStore(options);
    opened.push(made);
    return made;
  };
  const input = (key: string, ttlMs = TTL): ReserveInput => ({
    key,
    scope: 's',
    fingerprint: 'f',
    method: 'POST',
    target: 't',
    owner: 'o',
    leaseMs: 30_000,
    ttlMs,
  });
  /** Reserves and completes `key`: a finished write, replayable until it expires or is evicted. */
  const write = async (local: MemoryStore, key: string, ttlMs = TTL) => {
    const { record } = await local.reserve(input(key, ttlMs));
    await local.complete(key, record.fencingToken, { response: RESPONSE, ttlMs });
  };
  const present = async (local: MemoryStore, keys: string[]) => {
    const found: string[] = [];
    for (const key of keys) if (await local.get(key)) found.push(key);
    return found;
  };

  beforeEach(() => {
    // The store reads Date.now(); a fake Date moves it without sleeping.
    vi.useFakeTimers({ toFake: ['Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
    for (const made of opened.splice(0)) made.close();
  });

  it('never holds more than maxRecords completed records: the least recently used goes first', async () => {
    const local = bounded({ maxRecords: 3 });
    for (const key of ['a', 'b', 'c', 'd', 'e']) await write(local, key);
    expect(local.size).toBe(3);
    expect(local.evicted).toBe(2);
    // Only the absent ones were evicted, and a and b were the oldest.
    expect(await local.get('a')).toBeUndefined();
    expect(await local.get('b')).toBeUndefined();
    expect((await local.get('e'))?.status).toBe('completed');
  });

  it('a replayed record survives an older untouched one (reserve and get count as use)', async () => {
    const local = bounded({ maxRecords: 3 });
    for (const key of ['a', 'b', 'c']) await write(local, key);
    const replay = await local.reserve(input('a')); // a replay: a becomes the most recent
    expect(replay.acquired).toBe(false);
    await write(local, 'd'); // over the bound: b (untouched, oldest) goes, not a
    expect(await present(local, ['a', 'b', 'c', 'd'])).toEqual(['a', 'c', 'd']);
    await local.get('c'); // a read is a use too; the gets above touched a, c, d in that order
    await write(local, 'e'); // a is now the least recently used
    expect(await present(local, ['a', 'c', 'd', 'e'])).toEqual(['c', 'd', 'e']);
  });

  it('never evicts in_flight or unknown records, even past the bound', async () => {
    const local = bounded({ maxRecords: 2 });
    const flying = await local.reserve(input('flying'));
    const doubtful = await local.reserve(input('doubtful'));
    await local.markUnknown('doubtful', doubtful.record.fencingToken, 'socket reset', TTL);
    await write(local, 'done'); // 3 records, bound 2: the completed one is the only candidate
    expect(await present(local, ['flying', 'doubtful', 'done'])).toEqual(['flying', 'doubtful']);
    // Only undecided records left: the store goes past its bound rather than drop one.
    const third = await local.reserve(input('third'));
    expect(third.acquired).toBe(true);
    expect(local.size).toBe(3);
    expect((await local.get('flying'))?.status).toBe('in_flight');
    expect((await local.get('doubtful'))?.status).toBe('unknown');
    // A second reserve of an undecided key still finds it: no second write gets through.
    expect((await local.reserve(input('flying'))).acquired).toBe(false);
    expect((await local.reserve(input('doubtful'))).acquired).toBe(false);
    // Once one completes, it can be evicted and the store is back at its bound.
    await local.complete('flying', flying.record.fencingToken, { response: RESPONSE, ttlMs: TTL });
    expect(local.size).toBe(2);
    expect(await present(local, ['flying', 'doubtful', 'third'])).toEqual(['doubtful', 'third']);
  });

  it('a twin waiting on a record gets its outcome even when completing it evicts it at once', async () => {
    const local = bounded({ maxRecords: 1 });
    const doubtful = await local.reserve(input('doubtful'));
    await local.markUnknown('doubtful', doubtful.record.fencingToken, 'timeout', TTL);
    const owner = await local.reserve(input('a')); // 2 records, bound 1, none evictable
    const twin = local.waitFor('a', 10_000);
    await local.complete('a', owner.record.fencingToken, { response: RESPONSE, ttlMs: TTL });
    expect(local.size).toBe(1); // a was the only completed record: evicted to keep the bound
    expect((await twin)?.status).toBe('completed'); // but the waiting twin replays it, no second send
  });

  it('a record taken over from completed (override) is in flight again and cannot be evicted', async () => {
    const local = bounded({ maxRecords: 2 });
    await write(local, 'a');
    const done = await local.get('a');
    const taken = await local.takeOver('a', {
      expectedToken: done!.fencingToken,
      expectedStatus: 'completed',
      owner: 'o2',
      leaseMs: 30_000,
      ttlMs: TTL,
      audit: { at: Date.now(), action: 'override', reason: 'r', reviewer: 'v' },
    });
    expect(taken.won).toBe(true);
    await write(local, 'b');
    await write(local, 'c'); // over the bound: b is the only completed record older than c
    expect(await present(local, ['a', 'b', 'c'])).toEqual(['a', 'c']);
    expect((await local.get('a'))?.status).toBe('in_flight');
  });

  it('expired records are dropped before a live completed record is evicted', async () => {
    const local = bounded({ maxRecords: 3 });
    await write(local, 'old'); // oldest, long-lived
    await write(local, 'brief', 1_000); // expires soon
    await write(local, 'newer');
    await local.get('brief'); // brief is now the most recently used
    vi.advanceTimersByTime(1_001);
    await write(local, 'fresh'); // over the bound: brief has expired, so it goes, not old
    expect(local.evicted).toBe(0);
    expect(await present(local, ['old', 'brief', 'newer', 'fresh'])).toEqual(['old', 'newer', 'fresh']);
  });

  it('matches a reference LRU over random operations (undecided records kept, completed evicted LRU first)', async () => {
    type Op = 'reserve' | 'complete' | 'unknown' | 'get';
    const ops = fc.array(
      fc.tuple(fc.constantFrom<Op>('reserve', 'complete', 'unknown', 'get'), fc.integer({ min: 0, max: 7 })),
      { maxLength: 80 },
    );
    await fc.assert(
      fc.asyncProperty(ops, async (steps) => {
        const MAX = 3;
        const local = memoryStore({ maxRecords: MAX });
        const status = new Map<string, string>(); // the model: key → status
        const lru: string[] = []; // completed keys, least recently used first
        const tokens = new Map<string, number>();
        const used = (key: string) => {
          const at = lru.indexOf(key);
          if (at >= 0) lru.splice(at, 1);
          if (status.get(key) === 'completed') lru.push(key);
        };
        const trim = () => {
          while (status.size > MAX && lru.length > 0) status.delete(lru.shift()!);
        };
        for (const [op, n] of steps) {
          const key = `k${n}`;
          if (op === 'reserve') {
            const result = await local.reserve(input(key));
            expect(result.acquired).toBe(!status.has(key));
            if (result.acquired) {
              status.set(key, 'in_flight');
              tokens.set(key, result.record.fencingToken);
              trim();
            } else used(key);
          } else if (op === 'get') {
            expect((await local.get(key))?.status).toBe(status.get(key));
            if (status.has(key)) used(key);
          } else if (status.get(key) === 'in_flight') {
            const token = tokens.get(key)!;
            if (op === 'complete') {
              await local.complete(key, token, { response: RESPONSE, ttlMs: TTL });
              status.set(key, 'completed');
              used(key);
              trim();
            } else {
              await local.markUnknown(key, token, 'reset', TTL);
              status.set(key, 'unknown');
            }
          }
          const held = new Map<string, string>();
          for await (const record of local.list()) held.set(record.key, record.status);
          expect(held).toEqual(status);
        }
        local.close();
      }),
      { seed: 20261202, numRuns: 200 },
    );
  });

  it('Infinity is unbounded, and the default holds 100 000 records', async () => {
    const unbounded = bounded({ maxRecords: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 50; i++) await write(unbounded, `k${i}`);
    expect(unbounded.size).toBe(50);
    expect(unbounded.evicted).toBe(0);
    expect(bounded({}).maxRecords).toBe(100_000);
  });

  it.each([0, -1, 1.5, Number.NaN, '10' as unknown as number])('maxRecords %s is a ConfigError', (value) => {
    expect(() => memoryStore({ maxRecords: value })).toThrow(ConfigError);
    expect(() => memoryStore({ maxRecords: value })).toThrow(/maxRecords must be a positive integer/);
  });
});
