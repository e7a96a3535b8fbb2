import type { Duration } from './duration.js';

// The preset table and the shapes of its rows, nothing else: the logic that reads them (matching a
// host, fitting a key, checking a user's preset) is in providers.ts, which re-exports these.

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
