import { IdempotencyError } from '@oncely/core';

/**
 * The oncely error behind a got error. got wraps what a hook throws in a `RequestError` whose
 * `code` is the oncely code (e.g. `ONCELY_PAYLOAD_MISMATCH`) and whose `cause` is the oncely error.
 */
export function oncelyErrorOf(error: unknown): IdempotencyError | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 3; depth++) {
    if (current instanceof IdempotencyError) return current;
    current = current.cause;
  }
  return undefined;
}

/** Whether got returned this response without sending anything for the call (header `oncely-replayed`). */
export function isReplayed(response: { headers: Record<string, unknown> }): boolean {
  return response.headers['oncely-replayed'] === 'true';
}
