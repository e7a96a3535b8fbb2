import { LeaseLostError, UnknownOutcomeError } from '../errors.js';
import { keepLease } from '../lease.js';
import { fromFound } from '../responses.js';
import type {
  IdempotencyRecord,
  Override,
  ReconcileHook,
  ReconcileVerdict,
  TakeOverInput,
  TakeOverResult,
  WireResponse,
} from '../types.js';
import { attempt } from './attempt.js';
import { recordFound } from './found.js';
import { LOOK_AGAIN, leaseGranted, type Operation, type Step } from './operation.js';
import { pauseWithin } from './pacing.js';
import { asStoreError, markUnknown, storeCall } from './store-calls.js';

/*
 * Recovery: the key is held by a record this call did not write. An unknown outcome is
 * re-sent under the provider's own key, decided by the route's reconcile hook, or refused; a
 * different payload goes ahead only under a reviewed override. Both begin with the same fenced
 * takeover (`takeOver`), which fails when anyone changed the record since it was read.
 */

/** The earlier attempt's outcome is unknown: re-send under the provider's key, ask the hook, or refuse. */
export async function recover(op: Operation, record: IdempotencyRecord): Promise<Step> {
  const { config, emit } = op.engine;
  const { key } = op.derived;
  const hook = op.plan.route?.rule.reconcile;
  const previous = record.status === 'in_flight' ? 'lease-expired' : 'unknown';
  if (!op.plan.preset && !hook) {
    throw new UnknownOutcomeError(
      key,
      previous === 'lease-expired'
        ? 'its owner stopped before recording an outcome (lease expired)'
        : 'an earlier attempt failed after the request may have been sent',
    );
  }
  if (previous === 'lease-expired' && !op.plan.preset) {
    // A hook asked at once could miss a write the stopped owner sent just before its lease ran out.
    const graceLeft = (record.leaseUntil ?? 0) + config.reconcileGraceMs - (record.observedAt ?? Date.now());
    if (graceLeft > 0) {
      await pauseWithin(op, graceLeft);
      return LOOK_AGAIN;
    }
  }
  const taken = await takeOver(op, record, {
    audit: { at: Date.now(), action: 'takeover', detail: previous },
  });
  if (!taken.won) return { next: taken.record };
  const mine = taken.record;
  emit({ type: 'takeover', key, fromToken: record.fencingToken, token: mine.fencingToken, previous });
  // A provider that deduplicates natively makes a re-send under the same provider key safe.
  if (op.plan.preset) return attempt(op, mine);
  return reconcileWith(op, mine, hook!);
}

/** A different payload under a completed or unknown key, with a reviewed override: take the key over for it. */
export async function override(
  op: Operation,
  record: IdempotencyRecord,
  grant: Override,
  granted: boolean,
): Promise<Step> {
  const { key, fingerprint } = op.derived;
  const taken = await takeOver(op, record, {
    fingerprint,
    bumpRevision: true,
    consumeGrant: granted,
    audit: {
      at: Date.now(),
      action: 'override',
      reason: grant.reason,
      reviewer: grant.reviewer,
      fingerprint,
    },
  });
  if (!taken.won) return { next: taken.record };
  op.engine.emit({
    type: 'override',
    key,
    reason: grant.reason,
    reviewer: grant.reviewer,
    revision: taken.record.revision,
    granted,
  });
  return attempt(op, taken.record);
}

/**
 * Takes the key over from the record as it was read (its token and status are the expectation):
 * won with the lease ours, or not won with the record as it is now (someone changed it first).
 */
async function takeOver(
  op: Operation,
  record: IdempotencyRecord,
  input: Pick<TakeOverInput, 'audit' | 'fingerprint' | 'bumpRevision' | 'consumeGrant'>,
): Promise<TakeOverResult> {
  const { store } = op.engine;
  const askedAt = performance.now();
  const taken = await storeCall(op, 'takeOver', () =>
    store.takeOver(op.derived.key, {
      expectedToken: record.fencingToken,
      expectedStatus: record.status,
      owner: op.owner,
      leaseMs: op.plan.leaseMs,
      ttlMs: op.plan.ttlMs,
      ...input,
    }),
  );
  if (taken.won) leaseGranted(op, askedAt);
  return taken;
}

/** The route's reconcile hook decides a taken-over unknown outcome: found, absent (send), or undecided. */
async function reconcileWith(op: Operation, mine: IdempotencyRecord, hook: ReconcileHook): Promise<Step> {
  const { store, emit } = op.engine;
  const { key } = op.derived;
  const token = mine.fencingToken;
  let verdict: ReconcileVerdict | undefined;
  let cause: unknown;
  // The hook may be slow (it asks the provider): keep the lease, or a twin takes over meanwhile.
  const keeper = keepLease(store, key, token, op.plan.leaseMs, emit, (askedAt) => leaseGranted(op, askedAt));
  try {
    verdict = await hook({
      key,
      record: mine,
      request: op.derived.view,
      found: (response) => ({ found: response }),
      absent: () => ({ absent: true }),
    });
  } catch (error) {
    cause = error;
  } finally {
    keeper.stop();
  }
  if (verdict && 'found' in verdict) {
    let found: WireResponse;
    try {
      found = fromFound(verdict.found);
    } catch (error) {
      // A hook's response that cannot be replayed decides nothing: the outcome stays unknown.
      await markUnknown(op, token, 'reconcile found an invalid response');
      throw error;
    }
    return { done: await recordFound(op, token, found, 'found by the reconcile hook') };
  }
  if (verdict && 'absent' in verdict) {
    // "Absent" licenses a send only while the key is still ours: confirm it, fenced, before sending.
    const askedAt = performance.now();
    try {
      await store.extend(key, token, op.plan.leaseMs);
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw asStoreError('extend', error, key);
      emit({ type: 'lease-lost', key, token });
      return LOOK_AGAIN; // someone else owns the key now: look again (wait, replay, ...)
    }
    leaseGranted(op, askedAt);
    emit({ type: 'reconciled', key, verdict: 'absent' });
    return attempt(op, mine);
  }
  await markUnknown(op, token, 'reconcile could not decide');
  emit({ type: 'reconciled', key, verdict: 'undecided' });
  throw new UnknownOutcomeError(key, 'the reconcile hook could not decide', cause);
}
