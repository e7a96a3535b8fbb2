import { canonicalJson } from './canonical.js';
import { ConfigError, ReplayUnavailableError } from './errors.js';
import type { Sealer } from './seal.js';
import { isSecretResponseHeader, redactHeaderValue, unsafeHeader } from './secrets.js';
import type { FoundResponse, IdempotencyRecord, RequestView, StoredResponse, WireResponse } from './types.js';

/** How a response is kept: what is dropped, how big a body may be, whether it is sealed. */
export interface StoragePolicy {
  /** Extra header names never stored (the patterns of secrets.ts always apply). */
  sensitiveResponseHeaders: ReadonlySet<string>;
  maxResponseBytes: number;
  sealer: Sealer | undefined;
  redactResponse: ((response: WireResponse, request: RequestView) => WireResponse) | undefined;
}

/** Header set on every response that was not fetched from the network for this call. */
export const REPLAYED_HEADER = 'oncely-replayed';

/**
 * Converts a live response into what the store keeps: the user's `redactResponse` applied,
 * secret headers dropped, body capped, then sealed when encryption is on (bound to `key`).
 */
export function toStored(
  live: WireResponse,
  key: string,
  request: RequestView,
  policy: StoragePolicy,
  onRedactFailure?: (message: string) => void,
): StoredResponse {
  let response = live;
  if (policy.redactResponse) {
    const redacted = redact(policy.redactResponse, live, request);
    if (typeof redacted === 'string') {
      // The write happened, so the record says completed; but what the hook meant to remove may be
      // anywhere in the response: keep the status only. A replay then fails clearly, never resends.
      onRedactFailure?.(redacted);
      const bare: StoredResponse = { status: live.status, statusText: live.statusText, headers: {} };
      bare.omitted = 'redact-failed';
      return policy.sealer ? policy.sealer.seal(bare, key) : bare;
    }
    response = redacted;
  }
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (!isSecretResponseHeader(name, policy.sensitiveResponseHeaders))
      headers[name] = redactHeaderValue(name, value);
  }
  const stored: StoredResponse = { status: response.status, statusText: response.statusText, headers };
  if (response.body.byteLength > policy.maxResponseBytes) stored.omitted = 'too-large';
  else
    stored.body = Buffer.from(
      response.body.buffer,
      response.body.byteOffset,
      response.body.byteLength,
    ).toString('base64');
  return policy.sealer ? policy.sealer.seal(stored, key) : stored;
}

/** The hook's response, or why it cannot be stored. */
function redact(
  hook: NonNullable<StoragePolicy['redactResponse']>,
  live: WireResponse,
  request: RequestView,
): WireResponse | string {
  let response: WireResponse;
  try {
    response = hook(live, request);
  } catch (error) {
    return `redactResponse threw: ${error instanceof Error ? error.message : String(error)}`;
  }
  const valid =
    typeof response === 'object' &&
    response !== null &&
    Number.isInteger(response.status) &&
    response.body instanceof Uint8Array &&
    typeof response.headers === 'object' &&
    response.headers !== null;
  return valid ? response : 'redactResponse must return a response { status, headers, body: Uint8Array }';
}

/** Rebuilds the response of a completed record, marked as replayed. */
export function fromStored(record: IdempotencyRecord, sealer: Sealer | undefined): WireResponse {
  if (!record.response) throw new ReplayUnavailableError(record.key, 0, 'the record holds no response');
  if (record.response.sealed !== undefined && !sealer) {
    throw new ReplayUnavailableError(
      record.key,
      record.response.status,
      'the stored response is sealed and no encryption keys are configured',
    );
  }
  const stored = sealer ? sealer.open(record.response, record.key) : record.response;
  if (stored.body === undefined) {
    throw new ReplayUnavailableError(
      record.key,
      stored.status,
      `the response body was ${stored.omitted ?? 'not stored'}`,
    );
  }
  return {
    status: stored.status,
    statusText: stored.statusText,
    headers: { ...stored.headers, [REPLAYED_HEADER]: 'true' },
    body: Buffer.from(stored.body, 'base64'),
  };
}

/** The same response marked as replayed (for coalesced twins). */
export function markReplayed(response: WireResponse): WireResponse {
  return { ...response, headers: { ...response.headers, [REPLAYED_HEADER]: 'true' } };
}

/** A response given by a reconcile hook or an operator, as wire bytes. */
export function fromFound(found: FoundResponse): WireResponse {
  const { body } = found;
  const headers = { ...(found.headers ?? {}) };
  const unsafe = unsafeHeader(headers);
  if (unsafe !== undefined) {
    throw new ConfigError(
      `The found response's header '${unsafe}' is not a valid header (its name, or a value holding CR, LF or NUL, could split the response when replayed)`,
    );
  }
  let bytes: Uint8Array;
  if (body === undefined || body === null) bytes = new Uint8Array();
  else if (body instanceof Uint8Array) bytes = body;
  else if (typeof body === 'string') bytes = Buffer.from(body);
  else {
    bytes = Buffer.from(canonicalJson(body));
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
      headers['content-type'] = 'application/json';
  }
  return { status: found.status, statusText: found.statusText, headers, body: bytes };
}
