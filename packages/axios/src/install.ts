import { ConfigError, type Idempotency } from '@oncely/core';
import type { AxiosInstance } from 'axios';
import { idempotentAdapter, ONCELY_ADAPTER } from './adapter.js';

/**
 * Installs oncely on an axios instance by wrapping its adapter; returns the same instance.
 * A per-request `adapter` option replaces the instance's adapter and so bypasses oncely.
 */
export function withIdempotency<T extends AxiosInstance>(instance: T, idem: Idempotency): T {
  const original = instance.defaults.adapter;
  if (isOncelyAdapter(original)) {
    throw new ConfigError('withIdempotency: this axios instance already has oncely installed');
  }
  instance.defaults.adapter = idempotentAdapter({
    idem,
    original,
    fullUrl: (config) => instance.getUri(config),
  });
  return instance;
}

function isOncelyAdapter(adapter: unknown): boolean {
  return (
    typeof adapter === 'function' && (adapter as { [ONCELY_ADAPTER]?: boolean })[ONCELY_ADAPTER] === true
  );
}
