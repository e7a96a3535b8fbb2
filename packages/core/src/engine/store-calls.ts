import { IdempotencyError, LeaseLostError, StoreUnavailableError } from '../errors.js';
import type { Operation } from './operation.js';

/*
 * The engine's policy for a failing store call, in one place: a call the decision depends on
 * (reserve, takeOver, waitFor, extend) fails the operation with a typed error; a call that only
 * records a decision already taken (complete, release, markUnknown) is `settle`d — the live
 * response is not hidden, and the failure is reported as events.
 */

/** A store call whose answer the operation needs: a failure becomes `StoreUnavailableError`. */
export async function storeCall<T>(op: Operation, operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw asStoreError(operation, error, op.derived.key);
  }
}

/** A store failure while recording must not hide the live response: it is reported instead. */
export async function settle(op: Operation, operation: string, call: () => Promise<unknown>): Promise<void> {
  const { emit } = op.engine;
  const { key } = op.derived;
  try {
    await call();
  } catch (error) {
    const reason = error instanceof LeaseLostError ? 'lease-lost' : 'store-unavailable';
    if (reason === 'store-unavailable')
      emit({ type: 'store-error', key, operation, message: describe(error) });
    emit({ type: 'record-not-written', key, reason, operation });
  }
}

/** Records the outcome as unknown: the request may have executed, and only reconcile can tell. */
export async function markUnknown(op: Operation, token: number, cause: string): Promise<void> {
  const { store } = op.engine;
  await settle(op, 'markUnknown', () => store.markUnknown(op.derived.key, token, cause, op.plan.ttlMs));
}

/** `markUnknown`, and the `unknown` event that tells the caller's monitoring. */
export async function becomeUnknown(op: Operation, token: number, cause: string): Promise<void> {
  await markUnknown(op, token, cause);
  op.engine.emit({ type: 'unknown', key: op.derived.key, cause });
}

/** Gives the key back: nothing was executed under it, so the next attempt may send afresh. */
export async function release(op: Operation, token: number): Promise<void> {
  const { store } = op.engine;
  await settle(op, 'release', () => store.release(op.derived.key, token));
}

/** A store's own typed errors pass; anything else is `StoreUnavailableError` for that call. */
export function asStoreError(operation: string, error: unknown, key: string): IdempotencyError {
  return error instanceof IdempotencyError ? error : new StoreUnavailableError(operation, error, key);
}

/** An error as one line: `CODE: message` where the error has a string code. */
export function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message || error.name;
  }
  return String(error);
}
