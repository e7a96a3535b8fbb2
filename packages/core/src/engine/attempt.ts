import { setTimeout as sleep } from 'node:timers/promises';
import {
  classifyResponse,
  isProviderReplay,
  providerMessage,
  retryAfterMs,
  wasNotSent,
} from '../classify.js';
import {
  InFlightTimeoutError,
  LeaseLostError,
  PayloadMismatchError,
  StoreUnavailableError,
} from '../errors.js';
import { keepLease, type LeaseKeeper } from '../lease.js';
import type { ExecuteResult, IdempotencyRecord, WireResponse } from '../types.js';
import { fetchExisting } from './existing.js';
import { storedResponse } from './found.js';
import { LOOK_AGAIN, leaseGranted, type Operation, type Step } from './operation.js';
import { prepare, providerKeyOf } from './provider-key.js';
import { asStoreError, becomeUnknown, describe, markUnknown, release, settle } from './store-calls.js';

/** "Key in use" backoff without a `Retry-After`: from BACKOFF_BASE_MS doubling to BACKOFF_MAX_MS, jittered. */
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 5_000;
/** Extends tried in a row to win back at least half a lease before sending. */
const CONFIRM_TRIES = 2;

/**
 * One network attempt while holding the lease, then the record transition its result calls for
 * (the outcome table of classify.ts). A provider that still runs an earlier attempt under the key
 * ("in use") is asked again, with the same key, after the pause it asks for.
 */
export async function attempt(op: Operation, record: IdempotencyRecord): Promise<Step> {
  const { store, emit } = op.engine;
  const { key } = op.derived;
  const token = record.fencingToken;
  const { preset, leaseMs } = op.plan;
  const providerKey = providerKeyOf(op.plan, op.derived, record.revision);
  const prepared = prepare(op, providerKey, record.attempts);
  const keeper = keepLease(store, key, token, leaseMs, emit, (askedAt) => leaseGranted(op, askedAt));
  /** The record is written off the caller's path: the keeper is stopped when it lands, not here. */
  let handedOff = false;
  try {
    for (let round = 1; ; round++) {
      // The last moment oncely controls before bytes leave: past it, only the provider's key fences.
      if (!(await confirmLease(op, record, round))) return LOOK_AGAIN;
      emit({ type: 'sent', key, attempt: record.attempts, token });
      let response: WireResponse;
      try {
        response = await op.send(prepared);
      } catch (error) {
        if (wasNotSent(error)) {
          await release(op, token);
          emit({ type: 'released', key, reason: 'not-sent' });
        } else {
          await becomeUnknown(op, token, describe(error));
        }
        throw error;
      }
      const live: ExecuteResult = { response, replayed: false, key, guarded: true };
      switch (classifyResponse(response, preset)) {
        case 'executed': {
          const recording = recordExecuted(op, token, response, providerKey);
          if (op.engine.config.record === 'after-return') {
            handedOff = true;
            inBackground(op, recording, keeper);
          } else {
            await recording;
          }
          return { done: live };
        }
        case 'not-executed':
          await release(op, token);
          emit({ type: 'released', key, status: response.status, reason: 'not-executed' });
          return { done: live };
        case 'ambiguous':
          await becomeUnknown(op, token, `HTTP ${response.status}`);
          return { done: live };
        case 'mismatch':
          await release(op, token);
          emit({ type: 'released', key, status: response.status, reason: 'provider-mismatch' });
          emit({ type: 'mismatch', key, by: 'provider' });
          throw new PayloadMismatchError(
            key,
            'the provider refused the key',
            providerMessage(response, preset),
          );
        case 'existing':
          return { done: await fetchExisting(op, token, response) };
        case 'in-use':
          await untilKeyFree(op, token, response, round);
      }
    }
  } finally {
    if (!handedOff) keeper.stop();
  }
}

/** Records an executed outcome (`completed`); a store failure is reported by `settle`, never thrown. */
async function recordExecuted(
  op: Operation,
  token: number,
  response: WireResponse,
  providerKey: string | undefined,
): Promise<void> {
  const { store, emit } = op.engine;
  const { key } = op.derived;
  const { preset, ttlMs } = op.plan;
  await settle(op, 'complete', () =>
    store.complete(key, token, { response: storedResponse(op, response), ttlMs, providerKey }),
  );
  emit({
    type: 'completed',
    key,
    status: response.status,
    providerReplayed: isProviderReplay(response, preset),
  });
}

/**
 * `record: 'after-return'`: the response goes back to the caller now; its record is written in the
 * background. Until the write settles the keeper keeps extending the lease (other processes keep
 * waiting on a live `in_flight`, nobody takes the key over), `flush()` waits for it, and the
 * engine's twin map keeps answering identical calls of this process (`op.recorded`). The failure
 * policy is the inline one (`settle`: events, the record left `in_flight` for its lease to
 * expire); anything else that would reject is reported too, so nothing rejects unhandled.
 */
function inBackground(op: Operation, recording: Promise<void>, keeper: LeaseKeeper): void {
  const { pending, emit } = op.engine;
  const { key } = op.derived;
  const landed: Promise<void> = recording
    .catch((error: unknown) => {
      emit({ type: 'store-error', key, operation: 'complete', message: describe(error) });
      emit({ type: 'record-not-written', key, reason: 'store-unavailable', operation: 'complete' });
    })
    .finally(() => {
      keeper.stop();
      pending.delete(landed);
    });
  pending.add(landed);
  op.recorded = landed;
}

/**
 * The provider still runs an earlier attempt under this key: pause — as long as its `Retry-After`
 * asks, else a jittered exponential backoff — then the loop asks again with the same key. A pause
 * that would outlast the wait budget, or an abort during it, leaves the outcome unknown.
 */
async function untilKeyFree(
  op: Operation,
  token: number,
  response: WireResponse,
  round: number,
): Promise<void> {
  const { key } = op.derived;
  const asked = retryAfterMs(response);
  const delay =
    asked ?? Math.min(BACKOFF_BASE_MS * 2 ** (round - 1), BACKOFF_MAX_MS) * (0.5 + Math.random() / 2);
  op.engine.emit({
    type: 'provider-in-use',
    key,
    status: response.status,
    attempt: round,
    delayMs: Math.round(delay),
  });
  if (Date.now() + delay > op.deadline) {
    await markUnknown(op, token, 'provider kept the key in use');
    throw new InFlightTimeoutError(key, op.engine.config.waitMs);
  }
  try {
    await sleep(delay, undefined, { signal: op.options.signal });
  } catch (error) {
    // Aborted while the provider still runs an earlier attempt: the outcome is not known.
    await markUnknown(op, token, 'aborted while the key was in use');
    throw op.options.signal?.reason ?? error;
  }
}

/**
 * Before a send: the request may leave only while the lease is surely ours. A caller whose event
 * loop was blocked (a CPU-bound job), or whose store calls were slow, may have lost the lease
 * without knowing: another process may already have taken the key over and sent. With less than
 * half a lease left (by the local monotonic clock, counted from when we asked for it) the lease
 * is extended first — fenced, so it fails if anyone took over — and the send is given up if that
 * fails. An abort requested meanwhile also stops the send here. `true`: send now.
 */
async function confirmLease(op: Operation, record: IdempotencyRecord, round: number): Promise<boolean> {
  const { store, emit } = op.engine;
  const { key } = op.derived;
  const { leaseMs } = op.plan;
  const token = record.fencingToken;
  const { signal } = op.options;
  if (signal?.aborted) {
    await giveBack(op, record, round, 'aborted before sending');
    throw signal.reason;
  }
  for (let tries = 0; performance.now() > op.leaseDeadline - leaseMs / 2; tries++) {
    if (tries === CONFIRM_TRIES) {
      await giveBack(op, record, round, 'the lease could not be confirmed in time');
      throw new StoreUnavailableError(
        'extend',
        new Error(`the store did not confirm the lease with half of it (${leaseMs / 2} ms) left`),
        key,
      );
    }
    const askedAt = performance.now();
    try {
      await store.extend(key, token, leaseMs);
    } catch (error) {
      if (error instanceof LeaseLostError) {
        emit({ type: 'lease-lost', key, token });
        emit({ type: 'send-withheld', key, token, reason: 'lease-lost' });
        return false;
      }
      await giveBack(op, record, round, 'the store failed while confirming the lease');
      throw asStoreError('extend', error, key);
    }
    leaseGranted(op, askedAt);
  }
  if (signal?.aborted) {
    await giveBack(op, record, round, 'aborted before sending');
    throw signal.reason;
  }
  return true;
}

/**
 * Gives the key back without sending: released when nothing was ever sent under it (a fresh
 * reservation, first round), else back to unknown (an earlier attempt or round may have executed).
 */
async function giveBack(op: Operation, record: IdempotencyRecord, round: number, why: string): Promise<void> {
  const token = record.fencingToken;
  if (record.attempts === 1 && round === 1) {
    await release(op, token);
    op.engine.emit({ type: 'released', key: op.derived.key, reason: 'not-sent' });
  } else {
    await becomeUnknown(op, token, why);
  }
}
