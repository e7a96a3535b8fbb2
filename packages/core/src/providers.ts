import { createHash } from 'node:crypto';
import { matchesAny, parseJson, readPath } from './classify.js';
import { ConfigError } from './errors.js';
import { type ProviderPreset, providerPresets } from './presets.js';
import type { WireResponse } from './types.js';

export type { ExistingResource, KeyFormat, ProviderPreset, ResponseMatcher } from './presets.js';
export { providerPresets } from './presets.js';

/** Validates a user-declared preset once, at configuration: a broken preset fails before any request. */
export function definePreset(preset: ProviderPreset): ProviderPreset {
  checkPreset(preset, `provider '${String(preset?.name)}'`);
  return preset;
}

/** Resolves a route's `provider` (name or object) to a preset. */
export function resolvePreset(
  provider: string | ProviderPreset | undefined,
  where: string,
): ProviderPreset | undefined {
  if (provider === undefined) return undefined;
  if (typeof provider !== 'string') {
    checkPreset(provider, where);
    return provider;
  }
  const preset = providerPresets[provider];
  if (!preset) {
    throw new ConfigError(
      `${where}: unknown provider preset '${provider}' (known: ${Object.keys(providerPresets).join(', ')})`,
    );
  }
  return preset;
}

/**
 * The preset whose hosts (and paths, if it lists any) cover this URL (for `providers: 'auto'`).
 * Asked on every write: no presets (the default) answers without parsing the URL, and the answer
 * for a list is remembered per target (a URL parse cost as much as the rest of planning a write).
 */
export function presetForHost(
  presets: readonly ProviderPreset[],
  target: string,
): ProviderPreset | undefined {
  if (presets.length === 0) return undefined;
  let known = presetsByTarget.get(presets);
  if (!known) {
    known = new Map();
    presetsByTarget.set(presets, known);
  }
  let found = known.get(target);
  if (found === undefined) {
    found = findPreset(presets, target) ?? null;
    if (known.size >= PRESET_TARGETS_MAX) known.delete(known.keys().next().value as string);
    known.set(target, found);
  }
  return found ?? undefined;
}

/** Per list of presets (one per engine configuration), the preset of each target lately asked (`null`: none). */
const presetsByTarget = new WeakMap<readonly ProviderPreset[], Map<string, ProviderPreset | null>>();
const PRESET_TARGETS_MAX = 512;

function findPreset(presets: readonly ProviderPreset[], target: string): ProviderPreset | undefined {
  const { hostname, pathname } = new URL(target);
  return presets.find(
    (preset) =>
      preset.hosts?.some((pattern) => hostMatches(pattern, hostname)) &&
      (preset.paths === undefined || preset.paths.some((pattern) => pathMatches(pattern, pathname))),
  );
}

function hostMatches(pattern: string, host: string): boolean {
  return pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern;
}

function pathMatches(pattern: string, path: string): boolean {
  const bare = path.length > 1 ? path.replace(/\/+$/, '') : path;
  return pattern.endsWith('*') ? bare.startsWith(pattern.slice(0, -1)) : bare === pattern;
}

/**
 * The key value sent to the provider. Deterministic: the caller's explicit key when the provider
 * accepts it as is, else derived from the store key's hash (or a hash of the explicit key), with
 * `-r<revision>` after an override so the provider sees a new key for the new payload.
 */
export function providerKeyFor(
  preset: ProviderPreset,
  hash: string,
  explicit: string | undefined,
  revision: number,
): string {
  const format = preset.keyFormat;
  if (format?.uuid) {
    // A caller's own UUID is sent untouched until an override needs a new one.
    if (explicit !== undefined && revision === 0 && UUID.test(explicit)) return explicit.toLowerCase();
    return uuidFrom(`${explicit ?? hash}#${revision}`);
  }
  const suffix = revision > 0 ? `-r${revision}` : '';
  if (explicit !== undefined && acceptsKey(preset, explicit + suffix)) return explicit + suffix;
  // Our hash is hex: truncating keeps it unique enough (≥ 80 bits for max ≥ 20, checked by checkPreset).
  const hex = explicit === undefined ? hash : createHash('sha256').update(explicit).digest('hex');
  const max = format?.maxLength ?? hex.length + suffix.length;
  return hex.slice(0, max - suffix.length) + suffix;
}

/** Characters a header value can carry safely: visible ASCII, inner spaces (no CR/LF, no 8-bit). */
const HEADER_SAFE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether the provider would take this value as its key (length, charset, header-safe). */
export function acceptsKey(preset: ProviderPreset, value: string): boolean {
  const format = preset.keyFormat;
  if (format?.uuid) return UUID.test(value);
  if (format?.maxLength !== undefined && value.length > format.maxLength) return false;
  if (format?.minLength !== undefined && value.length < format.minLength) return false;
  if (format?.pattern && !format.pattern.test(value)) return false;
  return !('header' in preset.carry) || HEADER_SAFE.test(value);
}

/**
 * For a preset with `existingResource`: the URL of the resource an earlier attempt created, when
 * this response says so (`GET <request URL without query>/<id>`); else `undefined`.
 */
export function existingResourceUrl(
  preset: ProviderPreset | undefined,
  requestUrl: string,
  response: WireResponse,
): string | undefined {
  const existing = preset?.existingResource;
  if (!existing || !matchesAny(existing.match, response)) return undefined;
  const id = readPath(parseJson(response.body), existing.idPath);
  if (typeof id !== 'string' || id === '') return undefined;
  const url = new URL(requestUrl);
  url.search = '';
  url.hash = '';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${encodeURIComponent(id)}`;
  return url.toString();
}

/**
 * UUID from any string: same input, same UUID. RFC 9562 version 8 (custom), variant `10`: version 5
 * is reserved for SHA-1 name-based UUIDs, and this one is cut from a SHA-256 digest.
 */
export function uuidFrom(input: string): string {
  const bytes = createHash('sha256').update(input).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
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

/** Shortest `maxLength` that keeps a truncated hex hash unique enough (80 bits). */
const MIN_HASHED_LENGTH = 20;

/** Checks a preset's shape; `where` names it in the error. */
export function checkPreset(preset: ProviderPreset, where: string): void {
  const problem = presetProblem(preset);
  if (problem !== undefined) throw new ConfigError(`${where}: ${problem}`);
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The first thing wrong with a preset, or `undefined`. */
function presetProblem(preset: ProviderPreset): string | undefined {
  if (preset === null || typeof preset !== 'object') return 'a preset must be an object';
  if (typeof preset.name !== 'string' || preset.name.trim() === '') return 'name must be a non-empty string';
  const carry = preset.carry as Partial<{ header: unknown; bodyField: unknown }> | undefined;
  const carried =
    (typeof carry?.header === 'string' && HEADER_NAME.test(carry.header)) ||
    (typeof carry?.bodyField === 'string' && carry.bodyField !== '');
  if (!carried) return "carry must be { header: 'Header-Name' } or { bodyField: 'field' }";
  const format = preset.keyFormat;
  if (format?.maxLength !== undefined && !format.uuid && !(format.maxLength >= MIN_HASHED_LENGTH)) {
    return `keyFormat.maxLength must be at least ${MIN_HASHED_LENGTH}, or keys derived from a hash collide`;
  }
  if ((format?.minLength ?? 0) > (format?.maxLength ?? Number.POSITIVE_INFINITY)) {
    return 'keyFormat.minLength is above keyFormat.maxLength';
  }
  // Every key oncely derives is hex with an optional `-r<n>` suffix: the preset must accept those.
  const sample = `${'a'.repeat(Math.min(format?.maxLength ?? 64, 64) - 3)}-r1`;
  if (!format?.uuid && !acceptsKey(preset, sample)) {
    return 'keyFormat.pattern must accept lower-case hex keys with a "-r<n>" revision suffix';
  }
  const tenants = preset.tenantHeaders;
  if (
    tenants !== undefined &&
    (!Array.isArray(tenants) || tenants.some((h) => typeof h !== 'string' || !HEADER_NAME.test(h)))
  ) {
    return 'tenantHeaders must be an array of header names';
  }
  for (const field of ['inUse', 'mismatch', 'notExecuted', 'executed'] as const) {
    if (preset[field] !== undefined && !Array.isArray(preset[field])) return `${field} must be an array`;
  }
  const matchers = [
    ...(preset.inUse ?? []),
    ...(preset.mismatch ?? []),
    ...(preset.existingResource?.match ?? []),
  ];
  if (matchers.some((m) => !Number.isInteger(m?.status) || m.status < 100 || m.status > 599)) {
    return 'every response matcher needs an HTTP status (100-599)';
  }
  return undefined;
}
