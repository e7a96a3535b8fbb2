import {
  ConfigError,
  createIdempotency,
  type IdempotencyOptions,
  type IdempotencyStore,
  LeaseLostError,
  leaseLive,
  memoryStore,
  type OncelyEvent,
} from '@oncely/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { wrapStore } from '../src/testing/wrap.js';
import { charge, deferred, ok, text } from './helpers.js';

/**
 * `record: 'after-return'`: the executed outcome is handed back as soon as it arrives and
 * recorded in the background (`store.complete` off the caller's path). The reservation still
 * precedes the send. The pending complete is held open by a store wrapper and a deferred promise;
 * nothing here waits on real time.
 */

/** A memory store whose `complete` waits for `gate` (and tells when it started and when it landed). */
function gatedStore(options: { fail?: () => unknown } = {}) {
  const inner = memoryStore();
  const gate = deferred();
  const entered = deferred();
  const waiting = deferred();
  const order: string[] = [];
  const calls = { reserve: 0, complete: 0, extend: 0 };
  const store: IdempotencyStore = wrapStore(inner, {
    reserve: (input) => {
      calls.reserve++;
      return inner.reserve(input);
    },
    extend: (key, token, leaseMs) => {
      calls.extend++;
      return inner.extend(key, token, leaseMs);
    },
    waitFor: (key, timeoutMs, signal) => {
      waiting.resolve();
      return inner.waitFor(key, timeoutMs, signal);
    },
    complete: async (key, token, input) => {
      calls.complete++;
      order.push('complete-started');
      entered.resolve();
      await gate.promise;
      if (options.fail) throw options.fail();
      const record = await inner.complete(key, token, input);
      order.push('complete-landed');
      return record;
    },
  });
  return { inner, store, gate, entered, waiting, order, calls };
}

function setup(store: IdempotencyStore, options: Omit<IdempotencyOptions, 'store' | 'onEvent'> = {}) {
  const events: OncelyEvent[] = [];
  const idem = createIdempotency({
    namespace: 'offpath',
    record: 'after-return',
    ...options,
    store,
    onEvent: (event) => events.push(event),
  });
  const types = () => events.map((event) => event.type);
  return { idem, events, types };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("record: 'after-return'", () => {
  it('the caller gets the response while the complete is still pending', async () => {
    const { inner, store, gate, order } = gatedStore();
    const { idem, types } = setup(store);
    const send = ok();
    const result = await idem.execute(charge(), send);
    order.push('returned');

    expect(result.replayed).toBe(false);
    expect(text(result.response)).toBe('{"id":"ch_1"}');
    expect(order).toEqual(['complete-started', 'returned']);
    // The reservation preceded the send; the record is still in flight until the complete lands.
    expect(types().slice(0, 2)).toEqual(['reserved', 'sent']);
    expect(types()).not.toContain('completed');
    expect((await inner.get(result.key!))?.status).toBe('in_flight');

    gate.resolve();
    await idem.flush();
    expect(order).toEqual(['complete-started', 'returned', 'complete-landed']);
    expect((await inner.get(result.key!))?.status).toBe('completed');
    expect(types()).toContain('completed');
  });

  it("the default ('before-return') still records before returning", async () => {
    const { store, gate, entered, order } = gatedStore();
    const idem = createIdempotency({ namespace: 'offpath', store });
    const running = idem.execute(charge(), ok()).then(() => order.push('returned'));
    await entered.promise;
    gate.resolve();
    await running;
    expect(order).toEqual(['complete-started', 'complete-landed', 'returned']);
  });

  it('a same-process identical call during the gap is answered with the same response, without a second send or store call', async () => {
    const { inner, store, gate, calls } = gatedStore();
    const { idem, types } = setup(store);
    const send = ok();
    const first = await idem.execute(charge(), send);
    expect((await inner.get(first.key!))?.status).toBe('in_flight');

    // The record is in_flight with a live lease: without the twin this call would wait on the store.
    const second = await idem.execute(charge('{"currency":"eur","amount":100}'), send);
    expect(send).toHaveBeenCalledTimes(1);
    expect(calls.reserve).toBe(1);
    expect(second.replayed).toBe(true);
    expect(text(second.response)).toBe(text(first.response));
    expect(second.response.headers['oncely-replayed']).toBe('true');
    expect(types()).toContain('coalesced');
    expect(types()).not.toContain('waiting');

    gate.resolve();
    await idem.flush();
    // Once the record landed the twin is gone: the next identical call is replayed by the store.
    const third = await idem.execute(charge(), send);
    expect(send).toHaveBeenCalledTimes(1);
    expect(calls.reserve).toBe(2);
    expect(third.replayed).toBe(true);
    expect(text(third.response)).toBe(text(first.response));
  });

  it('another process (instance) during the gap finds the record in_flight with a live lease, waits, and replays once it lands', async () => {
    const { store, gate, waiting } = gatedStore();
    const { idem } = setup(store);
    const other = setup(store);
    const send = ok();
    const first = await idem.execute(charge(), send);
    const second = other.idem.execute(charge(), send);
    await waiting.promise;
    gate.resolve();
    const replay = await second;
    expect(send).toHaveBeenCalledTimes(1);
    expect(replay.replayed).toBe(true);
    expect(text(replay.response)).toBe(text(first.response));
    expect(other.types()).toEqual(expect.arrayContaining(['waiting', 'replayed']));
  });

  it('a background complete that fails (store down) is reported as events, never as an unhandled rejection; the record stays in_flight for its lease to expire', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const { inner, store, gate, calls } = gatedStore({ fail: () => new Error('connection reset') });
      const { idem, events } = setup(store);
      const send = ok();
      const result = await idem.execute(charge(), send);
      expect(result.response.status).toBe(200);
      gate.resolve();
      await idem.flush();
      // A macrotask turn so that a rejection nobody handled would have been reported.
      await new Promise((resolve) => setImmediate(resolve));

      expect(calls.complete).toBe(1);
      expect(events).toContainEqual({
        type: 'store-error',
        key: result.key,
        operation: 'complete',
        message: 'connection reset',
      });
      expect(events).toContainEqual({
        type: 'record-not-written',
        key: result.key,
        reason: 'store-unavailable',
        operation: 'complete',
      });
      expect(rejections).toEqual([]);
      // Not recorded: the record stays in_flight; once its lease expires the next attempt reconciles.
      expect((await inner.get(result.key!))?.status).toBe('in_flight');

      // The twin is gone with the failed record: an identical call reaches the store, which holds
      // the key in_flight (it waits, and with no wait budget left gives up without sending).
      const again = setup(store, { wait: { timeout: 0 } });
      await expect(again.idem.execute(charge(), send)).rejects.toMatchObject({
        code: 'ONCELY_IN_FLIGHT_TIMEOUT',
      });
      expect(send).toHaveBeenCalledTimes(1);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it('a background complete refused with LeaseLostError (another owner took over) is reported as lease-lost', async () => {
    const { store, gate } = gatedStore({ fail: () => new LeaseLostError('offpath:x', 'taken over') });
    const { idem, events } = setup(store);
    const result = await idem.execute(charge(), ok());
    gate.resolve();
    await idem.flush();
    expect(events).toContainEqual({
      type: 'record-not-written',
      key: result.key,
      reason: 'lease-lost',
      operation: 'complete',
    });
    expect(events.some((event) => event.type === 'store-error')).toBe(false);
  });

  it('flush() resolves only after the pending complete landed; close() flushes too', async () => {
    const { inner, store, gate, entered, order } = gatedStore();
    const { idem } = setup(store);
    const result = await idem.execute(charge(), ok());
    await entered.promise;
    const flushed = idem.flush().then(async () => {
      order.push('flushed');
      return (await inner.get(result.key!))?.status;
    });
    const closed = idem.close().then(() => order.push('closed'));
    gate.resolve();
    expect(await flushed).toBe('completed');
    await closed;
    expect(order).toEqual(['complete-started', 'complete-landed', 'flushed', 'closed']);
    // Nothing pending: resolves at once.
    await idem.flush();
  });

  it('the lease keeper keeps extending the lease while the complete is pending, and stops once it lands', async () => {
    const LEASE = 1_000;
    const { inner, store, gate, calls } = gatedStore();
    vi.useFakeTimers({ toFake: ['Date', 'performance', 'setInterval', 'clearInterval'] });
    const { idem, types } = setup(store, { lease: LEASE });
    const result = await idem.execute(charge(), ok());
    const before = calls.extend;

    // Five leases pass on the (fake) clock while the complete is held open.
    await vi.advanceTimersByTimeAsync(5 * LEASE);
    expect(calls.extend - before).toBeGreaterThanOrEqual(12); // every third of a lease
    const held = await inner.get(result.key!);
    expect(held?.status).toBe('in_flight');
    expect(leaseLive(held!, Date.now())).toBe(true);
    expect(types()).not.toContain('lease-lost');

    gate.resolve();
    await idem.flush();
    const after = calls.extend;
    await vi.advanceTimersByTimeAsync(5 * LEASE);
    expect(calls.extend).toBe(after);
    expect((await inner.get(result.key!))?.status).toBe('completed');
  });

  it('an unknown value is a ConfigError', () => {
    expect(() =>
      createIdempotency({ record: 'sometimes' as unknown as 'after-return', store: memoryStore() }),
    ).toThrow(ConfigError);
  });
});
