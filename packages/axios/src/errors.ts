import type { IdempotencyError } from '@oncely/core';
import { AxiosError, type InternalAxiosRequestConfig } from 'axios';

/**
 * An oncely refusal as the `AxiosError` axios callers expect: `code` and `oncelyCode` hold the
 * oncely code (e.g. `ONCELY_PAYLOAD_MISMATCH`), `cause` the oncely error itself. No `response`:
 * nothing was received for this call.
 */
export function toAxiosError(error: IdempotencyError, config: InternalAxiosRequestConfig): AxiosError {
  const wrapped = new AxiosError(error.message, error.code, config);
  // Non-enumerable, like AxiosError.from, so loggers that walk own properties stay safe.
  Object.defineProperty(wrapped, 'cause', { value: error, writable: true, configurable: true });
  wrapped.oncelyCode = error.code;
  return wrapped;
}
