import type { Duration } from './duration.js';
import type { OncelyEvent } from './events.js';
import type { ProviderPreset } from './providers.js';

/** Header values as clients hold them; names are matched case-insensitively. */
export type HeaderValue = string | string[] | number | undefined;
/** Request headers as a plain object (named so as not to shadow fetch's `Headers` class). */
export type RequestHeaders = Record<string, HeaderValue>;

/**
 * The body of an outgoing request as it will go on the wire. Plugins pass bytes or a string;
 * direct users of `execute` may also pass a JSON-able object or `URLSearchParams`.
 * Anything else (streams, async iterables, FormData with files) can be sent only with an
 * explicit key: it cannot be canonicalised.
 */
export type RequestBody = string | Uint8Array | ArrayBuffer | URLSearchParams | object | null | undefined;

/** A client-neutral view of one outgoing request. */
export interface OutgoingRequest {
  method: string;
  /** Absolute URL, including the query string. */
  url: string;
  headers: RequestHeaders;
  body?: RequestBody;
  /** Content type of the body; taken from the `content-type` header when absent. */
  contentType?: string | undefined;
}

/** What core asks the plugin to send: the original request plus the headers and body core prepared. */
export interface PreparedRequest {
  method: string;
  url: string;
  /** Headers to add or replace on the wire (lower-case names), e.g. a provider's idempotency-key header. */
  setHeaders: Record<string, string>;
  /** Replacement body when core had to change it (a provider key carried in a body field); else `undefined`. */
  body: string | Uint8Array | undefined;
  /** The store key of this operation, `undefined` for requests oncely does not guard. */
  key: string | undefined;
  /** Which attempt through oncely this is for the key (1 = first). */
  attempt: number;
}

/** A response as it came off the wire (or out of the store, for a replay). */
export interface WireResponse {
  status: number;
  statusText?: string | undefined;
  headers: Record<string, string | string[]>;
  body: Uint8Array;
}

/** Performs exactly one network attempt; throws the client's own transport error on failure. */
export type Send = (prepared: PreparedRequest) => Promise<WireResponse>;

/** An explicit, reviewed authorisation to reuse a key with a different payload. Both fields must be non-empty. */
export interface Override {
  reason: string;
  reviewer: string;
}

/** Per-request options, surfaced by each plugin as its `oncely` option. */
export interface ExecuteOptions {
  /** The logical key of this operation. It wins over derivation; it is still scoped and fingerprinted. */
  key?: string | undefined;
  /** Do not guard this request: it is sent as is, no store call. */
  skip?: boolean | undefined;
  /** Reuse the key with a different payload (recorded in the audit trail). */
  override?: Override | undefined;
  /** Stops waiting for an in-flight twin. */
  signal?: AbortSignal | undefined;
}

export interface ExecuteResult {
  response: WireResponse;
  /** True when the response came from the store or from a coalesced twin: nothing was sent for this call. */
  replayed: boolean;
  /** The store key, `undefined` when the request was not guarded. */
  key: string | undefined;
  /** Whether oncely guarded the request (false for skipped or unguarded methods). */
  guarded: boolean;
}

// ---------------------------------------------------------------------------------------------
// Store contract

/**
 * - `in_flight`: reserved by an owner holding a lease; the call is (or was) running.
 * - `completed`: the call executed; `response` holds what the server answered.
 * - `unknown`: an attempt may or may not have executed; only reconcile (or an operator) decides.
 * An `in_flight` record whose lease has expired is treated as `unknown` (its owner died).
 */
export type RecordStatus = 'in_flight' | 'completed' | 'unknown';

export interface StoredResponse {
  status: number;
  statusText?: string | undefined;
  /** Response headers with sensitive ones (set-cookie, …) removed. */
  headers: Record<string, string | string[]>;
  /** Body bytes, base64; absent when the body was over the size cap. */
  body?: string | undefined;
  /** Why the body was not stored. */
  omitted?: 'too-large' | 'redact-failed' | undefined;
  /** Headers, body and omitted, encrypted at rest (`v1.<keyId>.<iv>.<tag>.<ciphertext>`, base64url); see seal.ts. */
  sealed?: string | undefined;
}

export type AuditAction =
  | 'takeover'
  | 'override'
  | 'override-granted'
  | 'unknown'
  | 'reconciled'
  | 'resolved-completed';

export interface AuditEntry {
  at: number;
  action: AuditAction;
  token?: number | undefined;
  reason?: string | undefined;
  reviewer?: string | undefined;
  /** The fingerprint the record moved to (overrides). */
  fingerprint?: string | undefined;
  detail?: string | undefined;
}

export interface IdempotencyRecord {
  /** Store key: `<namespace>:<hex sha-256>`. */
  key: string;
  /** Hash of the scope (tenant or credentials), never the raw value. */
  scope: string;
  status: RecordStatus;
  fingerprint: string;
  method: string;
  /** Normalised target URL (no credentials in it: userinfo is dropped). */
  target: string;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  leaseOwner: string | null;
  leaseUntil: number | null;
  /** Grows with every grant of the lease; a write with an older token is refused. */
  fencingToken: number;
  attempts: number;
  response?: StoredResponse | undefined;
  /** The key value sent to a provider that deduplicates natively. */
  providerKey?: string | undefined;
  /** Bumped by each override; part of the provider key so the provider sees a new key for the new payload. */
  revision: number;
  /** A single-use override granted by an operator, consumed by the next different payload. */
  overrideGrant?: Override | undefined;
  audit: AuditEntry[];
  /**
   * The store's clock (ms since epoch) when this copy was read; never stored. Lease decisions
   * compare `leaseUntil` with it, not with the caller's clock, which may be seconds off.
   */
  observedAt?: number | undefined;
}

/** The record as an operator (or the engine) last saw it: a compare-and-set writes only if it is unchanged. */
export interface ExpectedRecord {
  token: number;
  status: RecordStatus;
}

export interface ReserveInput {
  key: string;
  scope: string;
  fingerprint: string;
  method: string;
  target: string;
  owner: string;
  leaseMs: number;
  ttlMs: number;
  providerKey?: string | undefined;
}

/** `acquired`: the caller owns a fresh `in_flight` record. Otherwise `record` is the existing one. */
export type ReserveResult =
  | { acquired: true; record: IdempotencyRecord }
  | { acquired: false; record: IdempotencyRecord };

export interface TakeOverInput {
  /** The fencing token of the record as the caller last saw it: exactly one contender wins. */
  expectedToken: number;
  /**
   * The status the caller saw. A record that moved on since (an expired lease whose owner then
   * completed, with the same token) is not taken: the caller looks again and replays.
   */
  expectedStatus: RecordStatus;
  owner: string;
  leaseMs: number;
  ttlMs: number;
  /** New fingerprint (an override moves the record to a new payload). */
  fingerprint?: string | undefined;
  providerKey?: string | undefined;
  /** Increment the revision (override). */
  bumpRevision?: boolean | undefined;
  /** Consume the operator's override grant. */
  consumeGrant?: boolean | undefined;
  audit: AuditEntry;
}

export type TakeOverResult =
  | { won: true; record: IdempotencyRecord }
  | { won: false; record: IdempotencyRecord | undefined };

export interface CompleteInput {
  response: StoredResponse;
  ttlMs: number;
  providerKey?: string | undefined;
  audit?: AuditEntry | undefined;
}

export interface ListFilter {
  /** `unknown` includes `in_flight` records whose lease expired. */
  status?: RecordStatus | undefined;
  /** Namespace, e.g. `'billing-bot'` (matches store keys `billing-bot:<hash>`). */
  namespace?: string | undefined;
  /** Only records created before this time (ms since epoch). */
  createdBefore?: number | undefined;
}

export type Resolution = { as: 'completed'; response: StoredResponse; ttlMs: number } | { as: 'absent' };

/**
 * Every operation is atomic in the store. Operations that take a token refuse a stale one with
 * `LeaseLostError`. Transport failures surface as `StoreUnavailableError`.
 */
export interface IdempotencyStore {
  /** Insert `in_flight` if the key is absent or expired; else return the existing record. One call either way. */
  reserve(input: ReserveInput): Promise<ReserveResult>;
  /** `in_flight` → `completed`, only for the current token. */
  complete(key: string, token: number, input: CompleteInput): Promise<IdempotencyRecord>;
  /** Delete the record (the attempt did not execute), only for the current token. */
  release(key: string, token: number): Promise<void>;
  /** Push the lease forward; returns the new `leaseUntil`. */
  extend(key: string, token: number, leaseMs: number): Promise<number>;
  /** `in_flight` → `unknown` and drop the lease, only for the current token. */
  markUnknown(key: string, token: number, cause: string, ttlMs: number): Promise<void>;
  /**
   * Take an expired-lease, `unknown` or (override) `completed` record: exactly one caller with
   * `expectedToken` and `expectedStatus` wins.
   */
  takeOver(key: string, input: TakeOverInput): Promise<TakeOverResult>;
  get(key: string): Promise<IdempotencyRecord | undefined>;
  /**
   * Resolves when the record leaves `in_flight`, its lease expires, it disappears, or `timeoutMs`
   * passes: with the record as it then is. Woken by the store, not by busy polling.
   */
  waitFor(key: string, timeoutMs: number, signal?: AbortSignal): Promise<IdempotencyRecord | undefined>;
  list(filter?: ListFilter): AsyncIterable<IdempotencyRecord>;
  /**
   * Operator: record the outcome checked by hand (`completed`) or free the key (`absent`), only
   * if the record still has the `expected` token and status (else `RecordChangedError`).
   */
  resolve(
    key: string,
    resolution: Resolution,
    audit: AuditEntry,
    expected: ExpectedRecord,
  ): Promise<IdempotencyRecord | undefined>;
  /** Operator: grant one different payload the right to reuse this key, if the record is as `expected`. */
  grantOverride(
    key: string,
    grant: Override,
    audit: AuditEntry,
    expected: ExpectedRecord,
  ): Promise<IdempotencyRecord>;
  /** Delete expired records (stores without native expiry); returns how many. */
  purgeExpired(): Promise<number>;
  /** Called with records that expired while `unknown` (their outcome was never decided). */
  onExpiredUnknown?(listener: (record: IdempotencyRecord) => void): () => void;
  /**
   * Store-wide conditions the engine re-emits as the events of the same type:
   * - `store-not-durable`: the store cannot keep records across a restart (e.g. Redis without AOF
   *   or RDB snapshots); a restart would forget every reservation. Told to a listener added later too.
   * - `store-reset`: the store lost records it had (flushed, restarted without persistence, rolled
   *   back to an older snapshot, failed over to a replica that lagged). The store fails closed for a
   *   while and treats keys it no longer has as `unknown` (see the store's docs).
   * `key` is the store key of the operation that found it, when one did. Returns an unsubscribe.
   */
  onStoreEvent?(
    listener: (event: {
      type: 'store-not-durable' | 'store-reset';
      detail: string;
      key?: string | undefined;
    }) => void,
  ): () => void;
}

// ---------------------------------------------------------------------------------------------
// Configuration

export interface KeyRuleFields {
  /** Dot paths into the JSON/form body that identify the operation (e.g. `metadata.order_id`). */
  fields: string[];
}
export interface KeyRuleIgnore {
  /** Volatile dot paths (timestamps, nonces) left out of both the key and the fingerprint. */
  ignore: string[];
}
export type KeyRule = KeyRuleFields | KeyRuleIgnore | ((request: RequestView) => string);

/** A response given by a reconcile hook or an operator: `body` may be bytes, a string or a JSON-able value. */
export interface FoundResponse {
  status: number;
  statusText?: string | undefined;
  headers?: Record<string, string | string[]> | undefined;
  body?: unknown;
}

/** What a reconcile hook returns; `undefined` means "cannot tell" (the outcome stays unknown). */
export type ReconcileVerdict = { found: FoundResponse } | { absent: true };

export interface ReconcileContext {
  key: string;
  record: IdempotencyRecord;
  request: RequestView;
  /** The verdicts, for readability: `return ctx.found(res)` / `return ctx.absent()`. */
  found(response: FoundResponse): ReconcileVerdict;
  absent(): ReconcileVerdict;
}

export interface RouteRule {
  /** `'POST /v1/charges'`, `'POST https://host/path/*'`, `'/v1/*'` or a RegExp tested against `METHOD URL`. */
  match: string | RegExp;
  skip?: boolean | undefined;
  key?: KeyRule | undefined;
  /** A provider preset name (see `providerPresets`) or a preset object. */
  provider?: string | ProviderPreset | undefined;
  ttl?: Duration | undefined;
  lease?: Duration | undefined;
  /** Decides an `unknown` outcome without a blind re-send, e.g. by looking the resource up. */
  reconcile?: ReconcileHook | undefined;
}

/** A route's reconcile hook: asks the provider what became of an attempt whose outcome is unknown. */
export type ReconcileHook = (
  ctx: ReconcileContext,
) => Promise<ReconcileVerdict | undefined> | ReconcileVerdict | undefined;

/** A read-only view of the request given to scope functions, key functions and reconcile hooks. */
export interface RequestView {
  method: string;
  url: string;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  /** Parsed JSON or form body when the body is JSON or form-encoded; else `undefined`. */
  json: unknown;
  bodyText: string | undefined;
}

export interface IdempotencyOptions {
  /** Default: `memoryStore()` (single process; lost on exit). */
  store?: IdempotencyStore | undefined;
  /** Prefixes every store key. Default `'oncely'`. */
  namespace?: string | undefined;
  /** How long a finished record is kept. Default `'24h'`, at most `'90d'`. */
  ttl?: Duration | undefined;
  /** In-flight lease, auto-extended while the call runs. Default `'60s'`. */
  lease?: Duration | undefined;
  /** How long a duplicate waits for an in-flight twin. Default `{ timeout: '30s' }`. */
  wait?: { timeout?: Duration | undefined } | undefined;
  /**
   * After an owner's lease expires, how long to wait before a route's `reconcile` hook looks the
   * resource up. An owner that sent just before it stopped may have a request still on its way to
   * the provider; asking at once could answer "absent" and send a second write. Default `'2s'`.
   */
  reconcileGrace?: Duration | undefined;
  /** Methods guarded by default. Default `['POST', 'PATCH']`. */
  methods?: string[] | undefined;
  routes?: RouteRule[] | undefined;
  /**
   * Tenant or credential scope, replacing the default one. Default: a hash of every header whose
   * name looks like a credential or a tenant (`*token*`, `*key*`, `*secret*`, `*auth*`,
   * `*session*`, `*signature*`, `cookie`, `*-account`, `*-organization`, …), each preset's
   * `tenantHeaders` and the URL's userinfo; signed requests by their signer (see docs/DESIGN.md §1).
   */
  scope?: ((request: RequestView) => string | undefined) | undefined;
  /** Extra headers that identify the caller or tenant, in the default scope whatever their name. */
  credentialHeaders?: string[] | undefined;
  /**
   * Headers that the default scope's patterns take but that change on every attempt (a
   * signature over a timestamp of a scheme oncely does not know): left out of the scope. Another
   * header must still identify the caller, or two callers share keys.
   */
  volatileHeaders?: string[] | undefined;
  /** Caller-set header that carries an explicit key. Default `'idempotency-key'`. */
  keyHeader?: string | undefined;
  /**
   * Keys that an SDK generates per call, as prefixes or patterns, on top of the built-in
   * `SDK_KEY_PREFIXES` (`stripe-node-retry-`, `stainless-node-retry-`). Such a key in the key
   * header (or the preset's) is not the operation's key: oncely derives one and sends it instead.
   */
  sdkKeys?: ReadonlyArray<string | RegExp> | undefined;
  /** Bodies larger than this cannot be canonicalised (explicit key needed). Default 4 MiB. */
  maxBodyBytes?: number | undefined;
  /** Stored response bodies larger than this are dropped (replay then fails clearly). Default 1 MiB. */
  maxResponseBytes?: number | undefined;
  /**
   * Extra response headers never stored. Always dropped: names that look like a secret
   * (`*cookie*`, `*authorization*`, `*authenticate*`, `*token*`, `*secret*`, `*session*`, `*api-key*`, …).
   */
  sensitiveResponseHeaders?: string[] | undefined;
  /**
   * Encrypts stored responses (headers and body) at rest with AES-256-GCM. `keys`: key id →
   * 32-byte key (bytes or base64); `current` seals new records, every key opens old ones (rotation).
   */
  encryption?: { keys: Record<string, string | Uint8Array>; current: string } | undefined;
  /**
   * Rewrites a response before it is stored, e.g. to drop an OAuth token from its body. The caller
   * of this attempt still gets the live response; replays get what this returns.
   */
  redactResponse?: ((response: WireResponse, request: RequestView) => WireResponse) | undefined;
  /** Provider presets attached by host (`'auto'`), in addition to route rules. Default: off. */
  providers?: 'auto' | ProviderPreset[] | undefined;
  /**
   * When the outcome of an executed call (2xx, 3xx, an executed 4xx) is recorded, relative to
   * handing the response back. The reservation always precedes the send; only this last write moves.
   * - `'before-return'` (default): `store.complete` lands first, then the caller gets the response.
   *   A process that crashes after `execute` returned has its record written.
   * - `'after-return'`: the caller gets the response as soon as it arrives, one store round trip
   *   sooner; the record is written in the background. Until it lands the lease keeper keeps the
   *   key, identical calls in this process get the same response (coalesced), other processes wait.
   *   A failed write is reported as events (`store-error`, `record-not-written`), as inline. A crash
   *   in the gap leaves the record `in_flight`: its lease expires and the next attempt reconciles
   *   it (as after a crash between send and record) — never a second write, but not a plain
   *   replay either. Await `flush()` (or `close()`) before the process exits. See docs/DESIGN.md §3.
   */
  record?: 'before-return' | 'after-return' | undefined;
  /** `'fail-closed'` (default): store down → `StoreUnavailableError`, nothing sent. `'fail-open'` sends unguarded and emits a loud event. */
  onStoreError?: 'fail-closed' | 'fail-open' | undefined;
  onEvent?: ((event: OncelyEvent) => void) | undefined;
  /**
   * Fetches a resource a provider names as already created by an earlier attempt (presets with
   * `existingResource`, e.g. GoCardless). Default: global `fetch`, with the original request's headers.
   */
  fetch?:
    | ((url: string, init: { method: 'GET'; headers: Record<string, string> }) => Promise<Response>)
    | undefined;
}

// ---------------------------------------------------------------------------------------------
// The engine

export interface Idempotency {
  /** Runs one request through the lifecycle: reserve → send → classify → record (or replay, wait, reconcile). */
  execute(request: OutgoingRequest, send: Send, options?: ExecuteOptions): Promise<ExecuteResult>;
  /** Whether `execute` would guard this request (plugins use it to leave other requests untouched). */
  isGuarded(method: string, url: string, options?: ExecuteOptions): boolean;
  /** The key and fingerprint `execute` would use, or `undefined` when the request is not guarded. */
  keyFor(
    request: OutgoingRequest,
    options?: ExecuteOptions,
  ): { key: string; fingerprint: string } | undefined;
  readonly store: IdempotencyStore;
  readonly namespace: string;
  /** Bodies up to this many bytes are canonicalised; plugins buffer one-shot bodies to the same cap. */
  readonly maxBodyBytes: number;
  /**
   * Resolves once every outcome recorded in the background (`record: 'after-return'`) for a response
   * already handed back has been written, or its write has failed and been reported. Later calls
   * are not waited for: on shutdown, stop issuing calls and await those running, then `flush()`.
   * Never rejects. With `'before-return'` nothing is ever pending and it resolves at once.
   */
  flush(): Promise<void>;
  /**
   * Detaches from the store's expiry notifications at once, and returns `flush()`: await it before
   * closing the store or exiting, or a background record may be cut off (the record then stays
   * `in_flight` until its lease expires and is reconciled). The store itself belongs to the caller.
   */
  close(): Promise<void>;
}
