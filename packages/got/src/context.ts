import { ConfigError, type ExecuteOptions, type Override } from '@oncely/core';

/** The per-request oncely options of a got call, read from `context.oncely`. */
export interface OncelyRequestOptions {
  /** The logical key of this operation (wins over derivation; still scoped and fingerprinted). */
  key?: string | undefined;
  /** Send this request as is: no key, no store call. */
  skip?: boolean | undefined;
  /** Reuse the key with a different payload, recorded in the audit trail. */
  override?: Override | undefined;
}

/**
 * got types `context` as `Record<string, unknown>` on a class, which module augmentation cannot
 * narrow; this helper gives the per-request options their type:
 * `client.post(url, { json, context: oncely({ key: 'order-42' }) })`.
 */
export function oncely(options: OncelyRequestOptions): { oncely: OncelyRequestOptions } {
  return { oncely: options };
}

/** Reads and checks `context.oncely`; core checks `key` and `override` in depth. */
export function readRequestOptions(
  context: Record<string, unknown>,
  signal: AbortSignal | undefined,
): ExecuteOptions {
  const value = context.oncely;
  if (value === undefined) return { signal };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError('context.oncely must be an object: { key?, skip?, override? }');
  }
  const { key, skip, override } = value as Record<string, unknown>;
  if (skip !== undefined && typeof skip !== 'boolean') {
    throw new ConfigError('context.oncely.skip must be a boolean');
  }
  if (key !== undefined && typeof key !== 'string') {
    throw new ConfigError('context.oncely.key must be a string');
  }
  return { key, skip, override: override as Override | undefined, signal };
}
