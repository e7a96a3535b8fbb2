import { ConfigError, type Idempotency } from '@oncely/core';
import axios, { type AxiosAdapter, type AxiosInstance, type AxiosRequestConfig } from 'axios';
import { idempotentAdapter, ONCELY_ADAPTER } from './adapter.js';
import type { Refusals } from './response.js';
import { urlBuilder } from './url.js';

export interface AxiosIdempotencyOptions {
  /**
   * How a refusal (`ONCELY_UNKNOWN_OUTCOME`, `ONCELY_PAYLOAD_MISMATCH`, `ONCELY_STORE_UNAVAILABLE`, …)
   * reaches the caller. `'throw'` (default): the call rejects with an `AxiosError` whose `code` is
   * the oncely code. `'slack'`: the call resolves with Slack's own "no", `200 { ok: false, error:
   * 'oncely_<code>', message }` (header `x-oncely-error`, `response.oncely.refused`): @slack/web-api 7
   * retries every thrown error and every non-200 for up to 30 minutes, but never an `ok: false`.
   */
  refusals?: Refusals | undefined;
}

export interface OncelyAdapterOptions extends AxiosIdempotencyOptions {
  /** The adapter that sends (name, function or list, as axios' `adapter`). Default: axios' default. */
  adapter?: AxiosRequestConfig['adapter'];
}

/**
 * Installs oncely on an axios instance by wrapping its adapter; returns the same instance.
 * A per-request `adapter` option replaces the instance's adapter and so bypasses oncely.
 */
export function withIdempotency<T extends AxiosInstance>(
  instance: T,
  idem: Idempotency,
  options: AxiosIdempotencyOptions = {},
): T {
  const original = instance.defaults.adapter;
  if (isOncelyAdapter(original)) {
    throw new ConfigError('withIdempotency: this axios instance already has oncely installed');
  }
  const fullUrl = urlBuilder();
  instance.defaults.adapter = idempotentAdapter({
    idem,
    original,
    fullUrl: (config) => fullUrl(instance.defaults, config),
    refusals: options.refusals ?? 'throw',
  });
  return instance;
}

/**
 * oncely as an axios adapter, for clients that build their axios instance themselves and take an
 * `adapter` option: `new WebClient(token, { adapter: oncelyAdapter(idem, { refusals: 'slack' }) })`.
 */
export function oncelyAdapter(idem: Idempotency, options: OncelyAdapterOptions = {}): AxiosAdapter {
  const { adapter = axios.defaults.adapter, refusals = 'throw' } = options;
  if (isOncelyAdapter(adapter)) throw new ConfigError('oncelyAdapter: the adapter given is already oncely');
  // The config an adapter receives is already merged with its instance's defaults (baseURL, params).
  const fullUrl = urlBuilder();
  return idempotentAdapter({
    idem,
    original: adapter,
    fullUrl: (config) => fullUrl(axios.defaults, config),
    refusals,
  });
}

function isOncelyAdapter(adapter: unknown): boolean {
  return (
    typeof adapter === 'function' && (adapter as { [ONCELY_ADAPTER]?: boolean })[ONCELY_ADAPTER] === true
  );
}
