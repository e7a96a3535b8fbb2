import { AxiosError, CanceledError, type InternalAxiosRequestConfig } from 'axios';

/**
 * The signal core honours while it waits (for a twin another process holds, or for a provider's
 * "key in use"): the caller's `signal`, and axios' `timeout`, which bounds the whole call as users
 * expect, not only the network attempt the inner adapter times.
 */
export function callSignal(config: InternalAxiosRequestConfig): AbortSignal | undefined {
  const signals: AbortSignal[] = [];
  if (config.signal instanceof AbortSignal) signals.push(config.signal);
  if (config.timeout !== undefined && config.timeout > 0) signals.push(AbortSignal.timeout(config.timeout));
  return signals.length > 1 ? AbortSignal.any(signals) : signals[0];
}

/** A wait ended by the signal, as the error axios itself raises on a timeout or a cancel. */
export function abortedAs(error: unknown, config: InternalAxiosRequestConfig): AxiosError | undefined {
  // An aborted timers/promises sleep rejects with an AbortError whose cause is the signal's reason.
  const reason = error instanceof Error && error.name === 'AbortError' && error.cause ? error.cause : error;
  const { signal } = config;
  if (signal instanceof AbortSignal && signal.aborted && reason === signal.reason) {
    return new CanceledError(undefined, config);
  }
  if (!(reason instanceof DOMException) || reason.name !== 'TimeoutError') return undefined;
  const code = config.transitional?.clarifyTimeoutError ? AxiosError.ETIMEDOUT : AxiosError.ECONNABORTED;
  return new AxiosError(
    config.timeoutErrorMessage ?? `timeout of ${config.timeout}ms exceeded`,
    code,
    config,
  );
}
