import { NOT_SENT } from '../classify.js';
import { IdempotencyError } from '../errors.js';

/** How deep a client may wrap an oncely error: got's `RequestError`, fetch's `TypeError('fetch failed')`. */
const WRAP_DEPTH = 3;

/**
 * The oncely error behind a client's error: the error itself, or one a client wrapped as `cause`
 * (axios' `AxiosError`, got's `RequestError`, fetch's `TypeError`). `undefined` for any other error.
 */
export function findOncelyError(error: unknown): IdempotencyError | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < WRAP_DEPTH; depth++) {
    if (current instanceof IdempotencyError) return current;
    current = current.cause;
  }
  return undefined;
}

/**
 * Tells core that this error was raised before any byte of the request left the machine, so the
 * key may be released. Non-enumerable: loggers that walk own properties do not print it.
 */
export function markNotSent<T extends object>(error: T): T {
  Object.defineProperty(error, NOT_SENT, { value: true, configurable: true });
  return error;
}
