import { ConfigError } from '../errors.js';
import type { Override } from '../types.js';

/** The per-request oncely options every plugin takes (axios `oncely`, got `context.oncely`, undici `oncely`). */
export interface OncelyRequestOptions {
  /** The logical key of this operation (wins over derivation; still scoped and fingerprinted). */
  key?: string | undefined;
  /** Send this request as is: no key, no store call. */
  skip?: boolean | undefined;
  /** Reuse the key with a different payload, recorded in the audit trail. */
  override?: Override | undefined;
}

/**
 * Checks the per-request options before the plugin asks whether the request is guarded: a
 * truthy non-boolean `skip` would otherwise skip the guard silently. `label` names the option as
 * the caller wrote it (`context.oncely`). Only the fields given are returned, so the result can be
 * spread over options read elsewhere. Core checks `key` and `override` in depth.
 */
export function readRequestOptions(value: unknown, label: string): OncelyRequestOptions {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`${label} must be an object: { key?, skip?, override? }`);
  }
  const { key, skip, override } = value as Record<string, unknown>;
  if (skip !== undefined && typeof skip !== 'boolean')
    throw new ConfigError(`${label}.skip must be a boolean`);
  if (key !== undefined && typeof key !== 'string') throw new ConfigError(`${label}.key must be a string`);
  const checked: OncelyRequestOptions = {};
  if (key !== undefined) checked.key = key;
  if (skip !== undefined) checked.skip = skip;
  if (override !== undefined) checked.override = override as Override;
  return checked;
}
