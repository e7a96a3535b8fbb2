import { canonicalJson } from './canonical.js';
import { ReplayUnavailableError } from './errors.js';
import type { FoundResponse, IdempotencyRecord, StoredResponse, WireResponse } from './types.js';

/** Header set on every response that was not fetched from the network for this call. */
export const REPLAYED_HEADER = 'oncely-replayed';

/** Converts a live response into what the store keeps: sensitive headers dropped, body capped. */
export function toStored(
  response: WireResponse,
  sensitive: ReadonlySet<string>,
  maxBytes: number,
): StoredResponse {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (!sensitive.has(name.toLowerCase())) headers[name] = value;
  }
  const stored: StoredResponse = { status: response.status, statusText: response.statusText, headers };
  if (response.body.byteLength > maxBytes) stored.omitted = 'too-large';
  else
    stored.body = Buffer.from(
      response.body.buffer,
      response.body.byteOffset,
      response.body.byteLength,
    ).toString('base64');
  return stored;
}

/** Rebuilds the response of a completed record, marked as replayed. */
export function fromStored(record: IdempotencyRecord): WireResponse {
  const stored = record.response;
  if (!stored) throw new ReplayUnavailableError(record.key, 0, 'the record holds no response');
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
