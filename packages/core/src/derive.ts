import {
  type CanonicalBody,
  canonicalBody,
  canonicalFields,
  canonicalWithout,
  fingerprintMediaType,
} from './canonical.js';
import { KeyDerivationError } from './errors.js';
import { hashParts } from './hash.js';
import { type ProviderPreset, parseHeaderValue } from './providers.js';
import { type ScopeConfig, scopeOf } from './scope.js';
import { normaliseTarget, userinfoOf } from './target.js';
import type { KeyRule, OutgoingRequest, RequestHeaders, RequestView } from './types.js';

/** Bump only with a migration note: every stored key changes with it (a golden test pins it). */
const KEY_VERSION = 'oncely/v2';

export interface DeriveConfig extends ScopeConfig {
  namespace: string;
  maxBodyBytes: number;
  /** Whether a key header's value is one an SDK generated per call (sdk-keys.ts). */
  isSdkKey: (value: string) => boolean;
}

export interface Derived {
  /** `<namespace>:<hash>` */
  key: string;
  /** The hash part of the key (hex SHA-256). */
  hash: string;
  fingerprint: string;
  scope: string;
  method: string;
  target: string;
  /** The caller's explicit key, if any (it also becomes the provider key). */
  explicitKey: string | undefined;
  /**
   * A per-call key an SDK put in a key header (`stripe-node-retry-…`): not the operation's key.
   * The header is rewritten with oncely's stable key before sending (engine/provider-key.ts).
   */
  sdkKey: { header: string; value: string } | undefined;
  view: RequestView;
  body: CanonicalBody | undefined;
}

/**
 * Lower-case names; arrays joined the way HTTP folds them; `undefined` dropped. A plain object is
 * the usual shape; a WHATWG `Headers`, a `Map` or an array of `[name, value]` pairs is read through
 * its entries (a name given twice is folded too). Anything else would hide its headers (an own
 * property walk sees none of a `Headers`' entries): `KeyDerivationError`, before anything is sent.
 */
export function normaliseHeaders(headers: RequestHeaders): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  if (headers === undefined || headers === null) return out;
  const proto = typeof headers === 'object' ? Object.getPrototypeOf(headers) : undefined;
  if (proto === Object.prototype || proto === null) {
    for (const name in headers) {
      if (!Object.hasOwn(headers, name)) continue;
      const value = headers[name];
      if (value === undefined) continue;
      out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    return out;
  }
  const iterable = headers as unknown as Iterable<unknown>;
  if (proto === undefined || typeof iterable[Symbol.iterator] !== 'function') {
    throw new KeyDerivationError(
      'The request headers are neither a plain object nor an iterable of [name, value] pairs (Headers, Map)',
    );
  }
  for (const entry of iterable) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string') {
      throw new KeyDerivationError('The request headers hold an entry that is not a [name, value] pair');
    }
    const value: unknown = entry[1];
    if (value === undefined) continue;
    const name = entry[0].toLowerCase();
    const text = Array.isArray(value) ? value.join(', ') : String(value);
    const before = out[name];
    out[name] = before === undefined ? text : `${before}, ${text}`;
  }
  return out;
}

/**
 * key = SHA-256(version, namespace, scope, key material), where the key material is, first match wins:
 * the explicit key; the route's `fields`; the route's key function; else the fingerprint.
 * fingerprint = SHA-256(method, target, canonical body minus `ignore`d fields).
 */
export function derive(
  request: OutgoingRequest,
  config: DeriveConfig,
  rule: KeyRule | undefined,
  preset: ProviderPreset | undefined,
  explicitOption: string | undefined,
): Derived {
  const method = request.method.toUpperCase();
  const target = normaliseTarget(request.url);
  // Read right after the target: one parse of the URL gives both.
  const userinfo = userinfoOf(request.url);
  const headers = normaliseHeaders(request.headers);
  const contentType = request.contentType ?? headers['content-type'];

  let body: CanonicalBody | undefined;
  let bodyError: KeyDerivationError | undefined;
  try {
    body = canonicalBody(request.body, contentType, config.maxBodyBytes);
  } catch (error) {
    if (!(error instanceof KeyDerivationError)) throw error;
    bodyError = error;
  }
  const view = requestView(method, target, headers, body);
  const fromRequest =
    explicitOption === undefined ? explicitFromRequest(headers, body, config, preset) : undefined;
  const sdkKey = fromRequest && 'sdk' in fromRequest ? fromRequest.sdk : undefined;
  const explicitKey = explicitOption ?? (fromRequest && 'key' in fromRequest ? fromRequest.key : undefined);
  if (explicitKey !== undefined && explicitKey.trim() === '')
    throw new KeyDerivationError('The explicit key is empty');

  if (body && rule && typeof rule === 'object' && 'ignore' in rule)
    body = canonicalWithout(body, rule.ignore);
  // A body we cannot read (stream) is identified by the explicit key alone; its fingerprint names
  // the route and the media type only.
  const fingerprint = hashParts(
    [
      'fp',
      method,
      target,
      body ? body.kind : 'unreadable',
      mediaOf(contentType, body),
      body ? body.canonical : '',
    ],
    body?.canonicalBytes,
  );

  let material: string[];
  if (explicitKey !== undefined) material = ['explicit', explicitKey];
  else if (typeof rule === 'function') material = ['fn', callKeyFunction(rule, view)];
  else if (bodyError) throw bodyError;
  else if (rule && 'fields' in rule) material = ['fields', canonicalFields(body!, rule.fields)];
  else if (body?.ambiguous) {
    throw new KeyDerivationError(
      `The request body is ambiguous (${body.ambiguous}): parsers disagree on what it says, so no key can be derived from it`,
    );
  } else material = ['fp', fingerprint];

  const scope = scopeOf(view, userinfo, config);
  const hash = hashParts([KEY_VERSION, config.namespace, scope, ...material]);
  return {
    key: `${config.namespace}:${hash}`,
    hash,
    fingerprint,
    scope,
    method,
    target,
    explicitKey,
    sdkKey,
    view,
    body,
  };
}

/**
 * The media type part of the fingerprint (canonical.ts `fingerprintMediaType`). No body, none: a
 * content type without a body says nothing. No content type: the one the body implies, as fetch
 * sets it: a JS value handed to `execute` is JSON, `URLSearchParams` a form (text or bytes
 * without a content type are the bytes, under no media type).
 */
function mediaOf(contentType: string | undefined, body: CanonicalBody | undefined): string {
  if (body?.kind === 'none') return '';
  if (contentType) return fingerprintMediaType(contentType);
  if (body?.kind === 'json') return 'application/json';
  return body?.kind === 'form' ? 'application/x-www-form-urlencoded' : '';
}

/**
 * The key the request itself carries: the preset's header or body field, else the key header.
 * A header value an SDK generated per call is reported as `sdk`, never taken as the key.
 */
function explicitFromRequest(
  headers: Record<string, string | undefined>,
  body: CanonicalBody | undefined,
  config: DeriveConfig,
  preset: ProviderPreset | undefined,
): { key: string } | { sdk: { header: string; value: string } } | undefined {
  let sdk: { header: string; value: string } | undefined;
  const fromHeader = (header: string, read: (value: string) => string) => {
    const value = headers[header];
    if (value === undefined) return undefined;
    const key = read(value);
    if (!config.isSdkKey(key)) return { key };
    sdk ??= { header, value };
    return undefined;
  };
  if (preset && 'header' in preset.carry) {
    const { header, format } = preset.carry;
    const found = fromHeader(header.toLowerCase(), (value) => parseHeaderValue(value, format));
    if (found) return found;
  }
  if (preset && 'bodyField' in preset.carry && body?.parsed && typeof body.parsed === 'object') {
    const value = (body.parsed as Record<string, unknown>)[preset.carry.bodyField];
    if (typeof value === 'string') return { key: value };
    if (Array.isArray(value) && typeof value[0] === 'string') return { key: value[0] }; // form body
  }
  return fromHeader(config.keyHeader, (value) => value) ?? (sdk ? { sdk } : undefined);
}

function callKeyFunction(rule: (request: RequestView) => string, view: RequestView): string {
  let value: unknown;
  try {
    value = rule(view);
  } catch (error) {
    throw new KeyDerivationError('The route key function threw', error);
  }
  if (typeof value !== 'string' || value === '') {
    throw new KeyDerivationError('The route key function must return a non-empty string');
  }
  return value;
}

/** The view given to key functions and reconcile hooks; `json` is parsed only if one reads it. */
function requestView(
  method: string,
  url: string,
  headers: Record<string, string | undefined>,
  body: CanonicalBody | undefined,
): RequestView {
  return new View(method, url, headers, body);
}

// A class, so the `json` getter is one function on the prototype, not a closure per request.
class View implements RequestView {
  readonly bodyText: string | undefined;
  // Private: a hook that logs or spreads the view sees the request, not oncely's internals.
  readonly #body: CanonicalBody | undefined;
  constructor(
    readonly method: string,
    readonly url: string,
    readonly headers: Record<string, string | undefined>,
    body: CanonicalBody | undefined,
  ) {
    this.bodyText = body?.text;
    this.#body = body;
  }

  get json(): unknown {
    return this.#body?.parsed;
  }
}
