import { createHash } from 'node:crypto';
import { matchesAny, readPath } from './classify.js';
import type { Duration } from './duration.js';
import { ConfigError } from './errors.js';
import type { WireResponse } from './types.js';

/** Matches a provider response: status, and optionally a JSON field at a dot path (e.g. `error.code`). */
export interface ResponseMatcher {
  status: number;
  /** Dot path into the JSON body (array items by index: `errors.0.reason`) and the value it must equal. */
  field?: { path: string; equals: string | number | boolean } | undefined;
  /** A response header and (optionally) its value. */
  header?: { name: string; equals?: string | undefined } | undefined;
}

/** Limits on the key value the provider accepts. */
export interface KeyFormat {
  maxLength?: number | undefined;
  minLength?: number | undefined;
  /** The provider accepts UUIDs only: a deterministic UUID (version 8, SHA-256) derived from our key is sent. */
  uuid?: boolean | undefined;
  /** Every key sent must match it (an explicit key that does not is hashed into one that does). */
  pattern?: RegExp | undefined;
}

/**
 * "This key already created a resource": the provider answers with the resource's id instead of a
 * replay (GoCardless). The existing resource is `GET <request URL without query>/<id>`.
 */
export interface ExistingResource {
  match: ResponseMatcher[];
  /** Dot path of the existing resource's id in the JSON body. */
  idPath: string;
}

/**
 * How one provider deduplicates writes natively. Presets are data: the engine reads the table,
 * it never branches on a provider's name. Users declare their own the same way (see `definePreset`).
 */
export interface ProviderPreset {
  name: string;
  /** Hosts matched by `providers: 'auto'` (exact, or `*.example.com`). */
  hosts?: string[] | undefined;
  /**
   * Paths under those hosts where the provider takes a key (`'/v1/payouts'` exact, `'/v2/*'` prefix).
   * `providers: 'auto'` attaches the preset there only; absent: every path of the hosts.
   */
  paths?: string[] | undefined;
  /**
   * Request headers that name the tenant an authenticated call acts for (Stripe Connect's
   * `Stripe-Account`): they join the key scope, so two connected accounts never share a key.
   * Headers whose names look like a tenant or a credential are in the scope anyway (scope.ts).
   */
  tenantHeaders?: string[] | undefined;
  /** Where the key goes: a header, or a top-level field of the JSON/form body. */
  carry: { header: string; format?: 'token' | 'sf-string' | undefined } | { bodyField: string };
  /** Key format limits. `uuid: true` sends a deterministic UUID (version 8) derived from our key. */
  keyFormat?: KeyFormat | undefined;
  /** How long the provider keeps keys; the route's ttl defaults to at least this. */
  retention?: Duration | undefined;
  /** Marks a response the provider replayed. */
  replayed?: ResponseMatcher['header'];
  /** "Key in use by a concurrent request": wait with backoff and re-send with the same key. */
  inUse?: ResponseMatcher[] | undefined;
  /** "Same key, different parameters" → `PayloadMismatchError` carrying the provider's message. */
  mismatch?: ResponseMatcher[] | undefined;
  /** "This key already created a resource" with the resource's id (reconcile by fetching it). */
  existingResource?: ExistingResource | undefined;
  /** Statuses that mean the request was not executed (refines the default table). */
  notExecuted?: number[] | undefined;
  /** Statuses that mean the request executed (refines the default table). */
  executed?: number[] | undefined;
  /** Where the provider's error message lives in its JSON body. */
  messagePath?: string | undefined;
  /** Facts about the preset not confirmed by the provider's public documentation. */
  unconfirmed?: string | undefined;
}

/** Stripe-style replay marker, shared by the providers that copied it. */
const IDEMPOTENT_REPLAYED = { name: 'idempotent-replayed', equals: 'true' };

/**
 * Built-in presets, one row per provider. Sources: `../shared/reference/providers.md` (provider
 * docs, SDKs and issue threads cited there). Retention is the longest documented window (a longer
 * ttl on our side is safe; a shorter one is not). Mismatch rows are only given where the provider's
 * answer can be told apart from an ordinary validation error: a bare `400` cannot.
 */
export const providerPresets: Record<string, ProviderPreset> = {
  stripe: {
    name: 'stripe',
    hosts: ['api.stripe.com'],
    // Connect: the platform's key acts for the account (or, in API v2, the context) named here.
    tenantHeaders: ['Stripe-Account', 'Stripe-Context'],
    carry: { header: 'Idempotency-Key' },
    keyFormat: { maxLength: 255 },
    retention: '24h',
    replayed: IDEMPOTENT_REPLAYED,
    inUse: [{ status: 409, field: { path: 'error.code', equals: 'idempotency_key_in_use' } }],
    mismatch: [{ status: 400, field: { path: 'error.type', equals: 'idempotency_error' } }],
    // A declined card (402) executed and is stored by Stripe.
    executed: [402],
    messagePath: 'error.message',
  },
  adyen: {
    name: 'adyen',
    hosts: ['*.adyen.com', '*.adyenpayments.com'],
    carry: { header: 'Idempotency-Key' },
    keyFormat: { maxLength: 64 },
    retention: '31d',
    // 704 "request already processed or in progress", answered as 409 or 422.
    inUse: [
      { status: 409, field: { path: 'errorCode', equals: '704' } },
      { status: 422, field: { path: 'errorCode', equals: '704' } },
    ],
    messagePath: 'message',
    unconfirmed:
      'No replay marker (the key header is echoed on every answer). Same key with other parameters: undocumented. ' +
      'Error body shape { errorCode, message } taken from the general error docs.',
  },
  paypal: {
    name: 'paypal',
    hosts: ['api-m.paypal.com', 'api-m.sandbox.paypal.com', 'api.paypal.com', 'api.sandbox.paypal.com'],
    carry: { header: 'PayPal-Request-Id' },
    keyFormat: { minLength: 1, maxLength: 108 },
    // Orders v2 keeps ids 6 h (72 h on request); Payments v2 refunds/captures 45 days.
    retention: '45d',
    mismatch: [
      { status: 422, field: { path: 'details.0.issue', equals: 'PAYPAL_REQUEST_ID_PREVIOUSLY_USED' } },
      { status: 400, field: { path: 'name', equals: 'DUPLICATE_REQUEST_ID' } },
    ],
    messagePath: 'message',
    unconfirmed:
      'No replay marker; a replay returns the latest state. Concurrent same-id status undocumented. ' +
      'DUPLICATE_REQUEST_ID status (400) and the issue path differ by API.',
  },
  square: {
    name: 'square',
    hosts: ['connect.squareup.com', 'connect.squareupsandbox.com'],
    paths: ['/v2/payments', '/v2/refunds', '/v2/orders', '/v2/customers', '/v2/invoices'],
    carry: { bodyField: 'idempotency_key' },
    keyFormat: { maxLength: 45 },
    mismatch: [{ status: 400, field: { path: 'errors.0.code', equals: 'IDEMPOTENCY_KEY_REUSED' } }],
    messagePath: 'errors.0.detail',
    unconfirmed:
      'Retention is not published (our ttl default applies). Mismatch code IDEMPOTENCY_KEY_REUSED "might vary depending on the API". ' +
      'Concurrent same-key behaviour undocumented.',
  },
  mollie: {
    name: 'mollie',
    hosts: ['api.mollie.com'],
    carry: { header: 'Idempotency-Key' },
    retention: '24h',
    replayed: IDEMPOTENT_REPLAYED,
    inUse: [{ status: 409 }],
    messagePath: 'detail',
    unconfirmed:
      'Same key with other parameters answers a plain 400 that cannot be told apart from a validation error: not mapped ' +
      '(oncely detects the mismatch in its own store first). A third-party note says keys live 1 h, the docs say 24 h.',
  },
  checkout: {
    name: 'checkout',
    hosts: [
      'api.checkout.com',
      'api.sandbox.checkout.com',
      '*.api.checkout.com',
      '*.api.sandbox.checkout.com',
    ],
    carry: { header: 'Cko-Idempotency-Key' },
    retention: '24h',
    // Concurrent requests with one key: 429, retry later (the docs suggest ≥ 30 s: give the route a long wait.timeout).
    inUse: [{ status: 429 }],
    unconfirmed:
      'Key length undocumented (UUIDv4 recommended). No replay marker. Only 2xx answers are kept: a 4xx/5xx is re-attempted on re-send.',
  },
  chargebee: {
    name: 'chargebee',
    hosts: ['*.chargebee.com'],
    carry: { header: 'chargebee-idempotency-key' },
    keyFormat: { maxLength: 100 },
    retention: '30m',
    replayed: { name: 'chargebee-idempotency-replayed', equals: 'true' },
    messagePath: 'message',
    unconfirmed: 'Concurrent and mismatched same-key answers undocumented.',
  },
  gocardless: {
    name: 'gocardless',
    hosts: ['api.gocardless.com', 'api-sandbox.gocardless.com'],
    carry: { header: 'Idempotency-Key' },
    // Not a replay: 409 invalid_state / idempotent_creation_conflict naming the resource created first.
    existingResource: {
      match: [
        { status: 409, field: { path: 'error.errors.0.reason', equals: 'idempotent_creation_conflict' } },
      ],
      idPath: 'error.errors.0.links.conflicting_resource_id',
    },
    messagePath: 'error.message',
    unconfirmed:
      'Key length and retention undocumented. Concurrent and mismatched same-key answers undocumented.',
  },
  increase: {
    name: 'increase',
    hosts: ['api.increase.com', 'sandbox.increase.com'],
    carry: { header: 'Idempotency-Key' },
    keyFormat: { maxLength: 200 },
    replayed: IDEMPOTENT_REPLAYED,
    mismatch: [{ status: 409, field: { path: 'type', equals: 'idempotency_key_already_used_error' } }],
    messagePath: 'title',
    unconfirmed:
      'Retention undocumented (the wording suggests keys never expire). Concurrent same-key answer undocumented.',
  },
  lithic: {
    name: 'lithic',
    hosts: ['api.lithic.com', 'sandbox.lithic.com'],
    carry: { header: 'Idempotency-Key' },
    keyFormat: { uuid: true },
    retention: '24h',
    messagePath: 'message',
    unconfirmed:
      'Concurrent (nothing saved; safe to re-send) and mismatch ("an error will be raised") statuses undocumented. Errors, 500s included, are replayed.',
  },
  moderntreasury: {
    name: 'moderntreasury',
    hosts: ['app.moderntreasury.com'],
    carry: { header: 'Idempotency-Key' },
    retention: '24h',
    inUse: [{ status: 409 }],
    messagePath: 'errors.message',
    unconfirmed:
      'Key length undocumented. Parameters are not compared (a reused key returns the first result). Only successes are kept.',
  },
  razorpay: {
    name: 'razorpay',
    hosts: ['api.razorpay.com'],
    paths: ['/v1/payouts', '/v1/payouts/*'],
    carry: { header: 'X-Payout-Idempotency' },
    keyFormat: { minLength: 4, maxLength: 36, pattern: /^[A-Za-z0-9_ -]+$/ },
    messagePath: 'error.description',
    unconfirmed:
      'Retention undocumented. Same key with other parameters answers 400 BAD_REQUEST_ERROR, not told apart from validation errors: not mapped.',
  },
  plaid: {
    name: 'plaid',
    hosts: ['production.plaid.com', 'sandbox.plaid.com', 'development.plaid.com'],
    paths: [
      '/transfer/authorization/create',
      '/payment_initiation/consent/payment/execute',
      '/bank_transfer/create',
    ],
    carry: { bodyField: 'idempotency_key' },
    // Transfer authorisations: ≤ 50 chars, 48 h (consent payments allow 128; legacy bank transfers keep ≥ 7 days).
    keyFormat: { maxLength: 50 },
    retention: '7d',
    messagePath: 'error_message',
    unconfirmed: 'Concurrent and mismatched same-key answers undocumented.',
  },
  ietf: {
    name: 'ietf',
    carry: { header: 'Idempotency-Key', format: 'sf-string' },
    inUse: [{ status: 409 }],
    mismatch: [{ status: 422 }],
    // RFC 7807 problem details.
    messagePath: 'detail',
  },
};

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

/** The preset whose hosts (and paths, if it lists any) cover this URL (for `providers: 'auto'`). */
export function presetForHost(
  presets: readonly ProviderPreset[],
  target: string,
): ProviderPreset | undefined {
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
  const id = readPath(parseJsonBody(response.body), existing.idPath);
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

function parseJsonBody(body: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
}
