import { createHash } from 'node:crypto';
import type { Duration } from './duration.js';
import { ConfigError } from './errors.js';

/** Matches a provider response: status, and optionally a JSON field at a dot path (e.g. `error.code`). */
export interface ResponseMatcher {
  status: number;
  /** Dot path into the JSON body and the value it must equal. */
  field?: { path: string; equals: string | number | boolean } | undefined;
  /** A response header and (optionally) its value. */
  header?: { name: string; equals?: string | undefined } | undefined;
}

/**
 * How one provider deduplicates writes natively. Presets are data: the engine reads the table,
 * it never branches on a provider's name.
 */
export interface ProviderPreset {
  name: string;
  /** Hosts matched by `providers: 'auto'` (exact, or `*.example.com`). */
  hosts?: string[] | undefined;
  /** Where the key goes: a header, or a top-level field of the JSON/form body. */
  carry: { header: string; format?: 'token' | 'sf-string' | undefined } | { bodyField: string };
  /** Key format limits. `uuid: true` sends a deterministic UUID (v5-style) derived from our key. */
  keyFormat?:
    | { maxLength?: number | undefined; minLength?: number | undefined; uuid?: boolean | undefined }
    | undefined;
  /** How long the provider keeps keys; the route's ttl defaults to at least this. */
  retention?: Duration | undefined;
  /** Marks a response the provider replayed. */
  replayed?: ResponseMatcher['header'];
  /** "Key in use by a concurrent request": wait with backoff and re-send with the same key. */
  inUse?: ResponseMatcher[] | undefined;
  /** "Same key, different parameters" → `PayloadMismatchError` carrying the provider's message. */
  mismatch?: ResponseMatcher[] | undefined;
  /** Statuses that mean the request was not executed (refines the default table). */
  notExecuted?: number[] | undefined;
  /** Statuses that mean the request executed (refines the default table). */
  executed?: number[] | undefined;
  /** Where the provider's error message lives in its JSON body. */
  messagePath?: string | undefined;
  /** Facts about the preset not confirmed by the provider's public documentation. */
  unconfirmed?: string | undefined;
}

/**
 * Built-in presets. Sources and caveats: `docs/DESIGN.md` and the provider reference.
 * (Further providers arrive as rows of this table.)
 */
export const providerPresets: Record<string, ProviderPreset> = {
  stripe: {
    name: 'stripe',
    hosts: ['api.stripe.com'],
    carry: { header: 'Idempotency-Key' },
    keyFormat: { maxLength: 255 },
    retention: '24h',
    replayed: { name: 'idempotent-replayed', equals: 'true' },
    inUse: [{ status: 409, field: { path: 'error.code', equals: 'idempotency_key_in_use' } }],
    mismatch: [{ status: 400, field: { path: 'error.type', equals: 'idempotency_error' } }],
    // A declined card (402) executed and is stored by Stripe.
    executed: [402],
    messagePath: 'error.message',
  },
  ietf: {
    name: 'ietf',
    carry: { header: 'Idempotency-Key', format: 'sf-string' },
    inUse: [{ status: 409 }],
    mismatch: [{ status: 422 }],
    messagePath: 'detail',
  },
};

/** Resolves a route's `provider` (name or object) to a preset. */
export function resolvePreset(
  provider: string | ProviderPreset | undefined,
  where: string,
): ProviderPreset | undefined {
  if (provider === undefined) return undefined;
  if (typeof provider !== 'string') return provider;
  const preset = providerPresets[provider];
  if (!preset) {
    throw new ConfigError(
      `${where}: unknown provider preset '${provider}' (known: ${Object.keys(providerPresets).join(', ')})`,
    );
  }
  return preset;
}

/** The preset whose host list names this URL's host (for `providers: 'auto'`). */
export function presetForHost(
  presets: readonly ProviderPreset[],
  target: string,
): ProviderPreset | undefined {
  const host = new URL(target).hostname;
  return presets.find((preset) =>
    preset.hosts?.some((pattern) =>
      pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern,
    ),
  );
}

/**
 * The key value sent to the provider. Deterministic: derived from the store key's hash (or the
 * caller's explicit key), with `-r<revision>` after an override so the provider sees a new key
 * for the new payload.
 */
export function providerKeyFor(
  preset: ProviderPreset,
  hash: string,
  explicit: string | undefined,
  revision: number,
): string {
  if (preset.keyFormat?.uuid) return uuidFrom(`${explicit ?? hash}#${revision}`);
  const suffix = revision > 0 ? `-r${revision}` : '';
  const base = explicit ?? hash;
  const max = preset.keyFormat?.maxLength;
  if (max === undefined || base.length + suffix.length <= max) return base + suffix;
  // Our hash is hex: truncating keeps it unique enough (≥ 128 bits for max ≥ 32). An explicit key is hashed to fit.
  const fitted = explicit === undefined ? hash : createHash('sha256').update(explicit).digest('hex');
  return fitted.slice(0, max - suffix.length) + suffix;
}

/** UUID (version 5 layout, SHA-256 based) from any string: same input, same UUID. */
export function uuidFrom(input: string): string {
  const bytes = createHash('sha256').update(input).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Header value in the preset's format: an RFC 8941 sf-string is quoted and escaped. */
export function formatHeaderValue(value: string, format: 'token' | 'sf-string' | undefined): string {
  return format === 'sf-string' ? `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : value;
}

/** Reads a header value back from the preset's format (a caller-set sf-string key). */
export function parseHeaderValue(value: string, format: 'token' | 'sf-string' | undefined): string {
  if (format !== 'sf-string' || !value.startsWith('"') || !value.endsWith('"')) return value;
  return value.slice(1, -1).replace(/\\(["\\])/g, '$1');
}
