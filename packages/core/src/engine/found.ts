import { markReplayed, toStored } from '../responses.js';
import type { ExecuteResult, WireResponse } from '../types.js';
import type { Operation } from './operation.js';
import { settle } from './store-calls.js';

/** Reconciliation found the outcome without sending: record it, and return it as a replay. */
export async function recordFound(
  op: Operation,
  token: number,
  found: WireResponse,
  detail: string,
): Promise<ExecuteResult> {
  const { store, emit } = op.engine;
  const { key } = op.derived;
  await settle(op, 'complete', () =>
    store.complete(key, token, {
      response: storedResponse(op, found),
      ttlMs: op.plan.ttlMs,
      audit: { at: Date.now(), action: 'reconciled', token, detail },
    }),
  );
  emit({ type: 'reconciled', key, verdict: 'found' });
  return { response: markReplayed(found), replayed: true, key, guarded: true };
}

/** A response as the store keeps it: secrets dropped, redacted or sealed as configured. */
export function storedResponse(op: Operation, response: WireResponse) {
  const { config, emit } = op.engine;
  const { key } = op.derived;
  return toStored(response, key, op.derived.view, config, (message) =>
    emit({ type: 'redact-failed', key, message }),
  );
}
