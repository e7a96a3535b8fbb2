import type { ProviderPreset, ResponseMatcher } from './providers.js';
import type { WireResponse } from './types.js';

/**
 * What one attempt's result means for the record:
 * - `executed`: the server acted → record `completed`, store the response;
 * - `not-executed`: the server refused before acting → release the key;
 * - `ambiguous`: it may have acted → record `unknown`;
 * - `in-use`: the provider is still running an earlier attempt with this key → wait and re-send;
 * - `mismatch`: the provider saw this key with other parameters → `PayloadMismatchError`;
 * - `existing`: the provider says an earlier attempt with this key created a resource, and names it
 *   → fetch that resource and record it (GoCardless-style, instead of a replay).
 */
export type AttemptClass = 'executed' | 'not-executed' | 'ambiguous' | 'in-use' | 'mismatch' | 'existing';

/** 4xx statuses that mean "not executed" unless a preset says otherwise. */
export const NOT_EXECUTED_STATUSES: readonly number[] = [400, 401, 403, 404, 405, 409, 413, 415, 422, 429];

/**
 * Transport error codes raised before any byte of the request left the machine: safe to release.
 * Every other error (reset, timeout, socket closed) is ambiguous.
 */
export const NOT_SENT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_INVALID_ARG',
  'ERR_INVALID_URL',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ECONNABORTED_BEFORE_SEND',
]);

/** Marks an error the plugin knows was raised before sending (e.g. a client-side validation error). */
export const NOT_SENT = Symbol.for('oncely.notSent');

/** True when the error chain says the request never left: the key can be released. */
export function wasNotSent(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    if (typeof current !== 'object') return false;
    if ((current as Record<symbol, unknown>)[NOT_SENT] === true) return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_SENT_ERROR_CODES.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Classifies a response: the preset's rows first, then the default table. */
export function classifyResponse(response: WireResponse, preset: ProviderPreset | undefined): AttemptClass {
  const { status } = response;
  if (preset) {
    if (preset.inUse && matchesAny(preset.inUse, response)) return 'in-use';
    if (preset.mismatch && matchesAny(preset.mismatch, response)) return 'mismatch';
    if (preset.existingResource && matchesAny(preset.existingResource.match, response)) return 'existing';
    if (preset.notExecuted?.includes(status)) return 'not-executed';
    if (preset.executed?.includes(status)) return 'executed';
  }
  if (status >= 500) return 'ambiguous';
  if (NOT_EXECUTED_STATUSES.includes(status)) return 'not-executed';
  return 'executed'; // 1xx-3xx, and 4xx that mean the server acted (e.g. 402 declined)
}

export function matchesAny(matchers: readonly ResponseMatcher[], response: WireResponse): boolean {
  let json: unknown;
  let parsed = false;
  return matchers.some((matcher) => {
    if (matcher.status !== response.status) return false;
    if (matcher.header) {
      const value = headerValue(response.headers, matcher.header.name);
      if (value === undefined) return false;
      if (matcher.header.equals !== undefined && value.toLowerCase() !== matcher.header.equals.toLowerCase())
        return false;
    }
    if (matcher.field) {
      if (!parsed) {
        json = parseJson(response.body);
        parsed = true;
      }
      if (readPath(json, matcher.field.path) !== matcher.field.equals) return false;
    }
    return true;
  });
}

/** True when the provider marked the response as a replay of an earlier request. */
export function isProviderReplay(response: WireResponse, preset: ProviderPreset | undefined): boolean {
  const marker = preset?.replayed;
  if (!marker) return false;
  const value = headerValue(response.headers, marker.name);
  return (
    value !== undefined &&
    (marker.equals === undefined || value.toLowerCase() === marker.equals.toLowerCase())
  );
}

/** The provider's message for an error response, when the preset says where it lives. */
export function providerMessage(
  response: WireResponse,
  preset: ProviderPreset | undefined,
): string | undefined {
  if (!preset?.messagePath) return undefined;
  const value = readPath(parseJson(response.body), preset.messagePath);
  return typeof value === 'string' ? value : undefined;
}

export function headerValue(headers: Record<string, string | string[]>, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === lower) return Array.isArray(value) ? value.join(', ') : value;
  }
  return undefined;
}

export function readPath(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** A response body as JSON, or `undefined` when it is not JSON. */
export function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * How long the response asks the caller to wait before asking again (`Retry-After`, RFC 9110
 * §10.2.3: delay-seconds or an HTTP-date), in ms from `now`; `undefined` when it does not say.
 */
export function retryAfterMs(response: WireResponse, now = Date.now()): number | undefined {
  const value = headerValue(response.headers, 'retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  if (!/ GMT$/.test(value)) return undefined; // every HTTP-date form ends so; Date.parse takes far more
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
