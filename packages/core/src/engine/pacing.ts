import { setTimeout as sleep } from 'node:timers/promises';
import { InFlightTimeoutError } from '../errors.js';
import type { IdempotencyRecord } from '../types.js';
import type { Operation } from './operation.js';
import { asStoreError } from './store-calls.js';

/** Looks at a key that come free (no pause); after them, pauses from LOOK_PAUSE_MIN_MS doubling to MAX. */
const FREE_LOOKS = 3;
const LOOK_PAUSE_MIN_MS = 10;
const LOOK_PAUSE_MAX_MS = 250;

/**
 * Bounds the store calls of one operation: a record that keeps saying "look again" (a takeover
 * refused because the clocks disagree, a lease lost) is looked at with growing pauses, never in
 * a busy loop. The first looks are free: the usual paths need one to three.
 */
export async function pace(op: Operation): Promise<void> {
  op.looks++;
  if (op.looks > FREE_LOOKS) {
    const pause = Math.min(LOOK_PAUSE_MIN_MS * 2 ** (op.looks - FREE_LOOKS - 1), LOOK_PAUSE_MAX_MS);
    const wait = op.lastLookAt + pause - performance.now();
    const remaining = remainingWait(op);
    if (wait > 0) await sleep(Math.min(wait, remaining), undefined, { signal: op.options.signal });
  }
  op.lastLookAt = performance.now();
}

/** A pause inside the wait budget, ended early by an abort. */
export async function pauseWithin(op: Operation, ms: number): Promise<void> {
  const remaining = remainingWait(op);
  await sleep(Math.min(ms, remaining), undefined, { signal: op.options.signal });
}

/** Waits (bounded by the wait budget) for the owner of a live lease to finish; the record then, if any. */
export async function waitForOwner(
  op: Operation,
  record: IdempotencyRecord,
): Promise<IdempotencyRecord | undefined> {
  const { store, emit } = op.engine;
  const { key } = op.derived;
  const remaining = remainingWait(op);
  emit({ type: 'waiting', key, token: record.fencingToken });
  const { signal } = op.options;
  try {
    const next = await store.waitFor(key, remaining, signal);
    signal?.throwIfAborted();
    return next;
  } catch (error) {
    signal?.throwIfAborted(); // an abort is the caller's, not the store's failure
    throw asStoreError('waitFor', error, key);
  }
}

/** What is left of the operation's wait budget; none left is `InFlightTimeoutError`. */
export function remainingWait(op: Operation): number {
  const remaining = op.deadline - Date.now();
  if (remaining <= 0) throw new InFlightTimeoutError(op.derived.key, op.engine.config.waitMs);
  return remaining;
}

/** The promise, or the signal's reason if the caller aborts first. */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
