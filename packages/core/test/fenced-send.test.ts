import {
  createIdempotency,
  type IdempotencyOptions,
  type IdempotencyRecord,
  type IdempotencyStore,
  InFlightTimeoutError,
  memoryStore,
  type OncelyEvent,
} from '@oncely/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { wrapStore as wrap } from '../src/testing/wrap.js';
import { charge, deferred, fakeSend, jsonResponse, ok } from './helpers.js';

/**
 * The fence must hold at the provider, not only in the store: a send leaves only while the lease
 * is surely the caller's. Delays, blocked event loops and skewed clocks are injected through store
 * wrappers and fake clocks; nothing here waits on real time except a store's own lease expiry.
 */

function instance(store: IdempotencyStore, options: Omit<IdempotencyOptions, 'store' | 'namespace'> = {}) {
  const events: OncelyEvent[] = [];
  const idem = createIdempotency({
    store,
    namespace: 'fenced',
    onEvent: (event) => events.push(event),
    ...options,
  });
  return { idem, events };
}

const types = (events: OncelyEvent[]) => events.map((event) => event.type);

afterEach(() => {
  vi.useRealTimers();
});

describe('a blocked event loop between reserve and send', () => {
  it('the lease ran out meanwhile and another process took the key over: nothing is sent', async () => {
    const inner = memoryStore();
    const LEASE = 1_000;
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    let blocked = false;
    const store = wrap(inner, {
      async reserve(input) {
        const result = await inner.reserve(input);
        if (blocked) return result;
        blocked = true;
        // The caller's event loop is blocked (a CPU-bound job) for 3 leases; meanwhile another
        // process sees the lease expire and takes the key over.
        vi.advanceTimersByTime(3 * LEASE);
        const taken = await inner.takeOver(input.key, {
          expectedToken: result.record.fencingToken,
          expectedStatus: 'in_flight',
          owner: 'process-b',
          leaseMs: 60_000,
          ttlMs: 60_000,
          audit: { at: Date.now(), action: 'takeover', detail: 'lease-expired' },
        });
        expect(taken.won).toBe(true);
        return result;
      },
    });
    // No wait for B's attempt (the clock is fake and frozen): the next look ends in InFlightTimeoutError.
    const { idem, events } = instance(store, { lease: LEASE, wait: { timeout: 0 } });
    const send = ok();
    await expect(idem.execute(charge(), send)).rejects.toBeInstanceOf(InFlightTimeoutError);
    expect(send).not.toHaveBeenCalled();
    expect(types(events)).toContain('send-withheld');
    const record = await inner.get(idem.keyFor(charge())!.key);
    expect(record).toMatchObject({ status: 'in_flight', leaseOwner: 'process-b' });
  });

  it('the lease ran out but nobody took over: the lease is extended (fenced) and the send goes out once', async () => {
    const inner = memoryStore();
    const LEASE = 1_000;
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    const extend = vi.fn((k: string, t: number, l: number) => inner.extend(k, t, l));
    const store = wrap(inner, {
      async reserve(input) {
        const result = await inner.reserve(input);
        vi.advanceTimersByTime(3 * LEASE);
        return result;
      },
      extend,
    });
    const { idem } = instance(store, { lease: LEASE });
    const send = ok();
    const result = await idem.execute(charge(), send);
    vi.useRealTimers();
    expect(send).toHaveBeenCalledTimes(1);
    expect(extend).toHaveBeenCalled();
    expect(result.replayed).toBe(false);
    expect((await inner.get(result.key!))?.status).toBe('completed');
  });
});

describe('a stale takeover', () => {
  it('the owner completes between the other caller reading the expired lease and its takeOver: replayed, not re-sent (preset route)', async () => {
    const inner = memoryStore();
    const LEASE = 60;
    const provider = { match: 'POST /v1/charges', provider: 'stripe' } as const;
    // A's lease keeper cannot reach the store, so A's lease runs out while its send is slow.
    const storeA = wrap(inner, {
      extend: async () => {
        throw new Error('store timeout');
      },
    });
    const gate = deferred();
    const sendA = fakeSend(async () => {
      await gate.promise;
      return jsonResponse(201, { id: 'ch_A' });
    });
    const a = instance(storeA, { lease: LEASE, routes: [provider] });
    const running = a.idem.execute(charge(), sendA);
    await vi.waitFor(() => expect(sendA).toHaveBeenCalledTimes(1));

    // B reads the expired lease; just before its takeOver lands, A completes.
    const storeB = wrap(inner, {
      async takeOver(key, input) {
        gate.resolve();
        await running;
        return inner.takeOver(key, input);
      },
    });
    const sendB = ok();
    const b = instance(storeB, { lease: LEASE, routes: [provider] });
    const result = await b.idem.execute(charge(), sendB);
    expect(sendB).not.toHaveBeenCalled();
    expect(result.replayed).toBe(true);
    expect(JSON.parse(Buffer.from(result.response.body).toString())).toEqual({ id: 'ch_A' });
    expect((await inner.get(result.key!))?.response).toBeDefined();
  });
});

describe('client and store clocks 5 s apart', () => {
  /** The store as seen through a clock `skewMs` off the client's: every time it reports is shifted. */
  function skewed(inner: IdempotencyStore, skewMs: number, calls: { n: number }): IdempotencyStore {
    const shift = (record: IdempotencyRecord | undefined) => {
      if (!record) return record;
      const moved = { ...record };
      for (const field of ['createdAt', 'updatedAt', 'expiresAt', 'observedAt', 'leaseUntil'] as const) {
        const value = moved[field];
        if (typeof value === 'number') moved[field] = value + skewMs;
      }
      return moved;
    };
    const count = <T>(call: () => Promise<T>) => {
      calls.n++;
      return call();
    };
    return wrap(inner, {
      reserve: (input) =>
        count(async () => {
          const result = await inner.reserve(input);
          return { ...result, record: shift(result.record)! } as typeof result;
        }),
      takeOver: (key, input) =>
        count(async () => {
          const result = await inner.takeOver(key, input);
          return { ...result, record: shift(result.record) } as typeof result;
        }),
      waitFor: (key, timeoutMs, signal) =>
        count(async () => shift(await inner.waitFor(key, timeoutMs, signal))),
      get: (key) => count(async () => shift(await inner.get(key))),
      extend: (key, token, leaseMs) => count(() => inner.extend(key, token, leaseMs)),
    });
  }

  it.each([
    ['store 5 s ahead', 5_000],
    ['store 5 s behind', -5_000],
  ])(
    '%s: the twin waits for the owner (a bounded number of store calls) and replays its response',
    async (_, skew) => {
      const inner = memoryStore();
      const gate = deferred();
      const sendA = fakeSend(async () => {
        await gate.promise;
        return jsonResponse(201, { id: 'ch_A' });
      });
      const routes = [{ match: 'POST /v1/charges', provider: 'stripe' }];
      const a = instance(inner, { lease: 2_000, routes });
      const running = a.idem.execute(charge(), sendA);
      await vi.waitFor(() => expect(sendA).toHaveBeenCalledTimes(1));

      const calls = { n: 0 };
      const storeB = skewed(inner, skew, calls);
      const b = instance(storeB, {
        lease: 2_000,
        routes,
        // A busy loop shows as many calls at once; the owner is released after 40 of them at most.
        onEvent: (event) => {
          if (event.type === 'waiting') gate.resolve();
        },
      });
      const watchdog = setInterval(() => {
        if (calls.n >= 40) gate.resolve();
      }, 1);
      const sendB = ok();
      try {
        const result = await b.idem.execute(charge(), sendB);
        expect(result.replayed).toBe(true);
        expect(JSON.parse(Buffer.from(result.response.body).toString())).toEqual({ id: 'ch_A' });
      } finally {
        clearInterval(watchdog);
        gate.resolve();
        await running;
      }
      expect(sendB).not.toHaveBeenCalled();
      expect(calls.n).toBeLessThanOrEqual(6);
    },
  );
});

describe('an abort while reserve is still in flight', () => {
  it('nothing is sent, the reservation is released, the caller gets its abort reason', async () => {
    const inner = memoryStore();
    const gate = deferred();
    const controller = new AbortController();
    const store = wrap(inner, {
      async reserve(input) {
        await gate.promise;
        return inner.reserve(input);
      },
    });
    const { idem, events } = instance(store);
    const send = ok();
    const running = idem.execute(charge(), send, { signal: controller.signal });
    const reason = new Error('the caller gave up');
    controller.abort(reason);
    gate.resolve();
    await expect(running).rejects.toBe(reason);
    expect(send).not.toHaveBeenCalled();
    expect(await inner.get(idem.keyFor(charge())!.key)).toBeUndefined();
    expect(events).toContainEqual(expect.objectContaining({ type: 'released', reason: 'not-sent' }));
  });
});

describe('reconcile after a lease expiry waits out a grace period', () => {
  it('the hook is asked only once the grace after the lease has passed', async () => {
    const inner = memoryStore();
    const LEASE = 40;
    const askedAt: number[] = [];
    const { idem } = instance(inner, {
      reconcileGrace: 80,
      routes: [
        {
          match: 'POST /v1/charges',
          reconcile: (ctx) => {
            askedAt.push(Date.now());
            return ctx.absent();
          },
        },
      ],
    });
    // A dead owner's record for this request's key.
    const { key, fingerprint } = idem.keyFor(charge())!;
    const dead = await inner.reserve({
      key,
      scope: 's',
      fingerprint,
      method: 'POST',
      target: 't',
      owner: 'dead',
      leaseMs: LEASE,
      ttlMs: 60_000,
    });
    const send = ok();
    const result = await idem.execute(charge(), send);
    expect(askedAt).toHaveLength(1);
    expect(askedAt[0]).toBeGreaterThanOrEqual(dead.record.leaseUntil! + 80);
    expect(send).toHaveBeenCalledTimes(1);
    expect(result.replayed).toBe(false);
  });
});
