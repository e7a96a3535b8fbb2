import { KeyDerivationError } from './errors.js';
import { hashParts, hashPartsRemembered } from './hash.js';
import type { RequestView } from './types.js';

/**
 * The default scope: who is calling, on whose behalf. Two requests with the same payload under
 * two scopes never share a key, so one tenant never receives another tenant's stored response.
 * It fails safe: any header whose *name* looks like a credential or a tenant is in, so an API's
 * own token header (`X-Shopify-Access-Token`, `PRIVATE-TOKEN`) or account header
 * (`Stripe-Account`, `OpenAI-Organization`) is covered without oncely knowing the API. The cost
 * of a false positive is a missed deduplication; a false negative would be a foreign replay.
 * Only the hash of the scope is ever kept (records hold `scope` as a hash; nothing is cached).
 *
 * Signed requests: a signature over a timestamp changes on every attempt, so the signer's stable
 * identity is used in its place (AWS SigV4: access key id, region, service; HTTP Message
 * Signatures: the key id), and retries still share one key while two access keys never do.
 */

/** Names that carry a credential. */
const CREDENTIAL = /token|secret|passw|session|signature|credential|cookie|auth|key/;
/** Names that carry a tenant: `Stripe-Account`, `OpenAI-Organization`, `X-Tenant-Id`, … */
const TENANT =
  /(^|[-_])(account|tenant|org|organization|organisation|project|workspace|team|merchant|company|realm)([-_]id)?$/;
/** Carry the operation's key (ours, the provider's or an SDK's per-call one), not an identity. */
const KEY_CARRIER = /idempotency/;
/** A signature header that is per-attempt when the request also carries one of these. */
const SIGNATURE = /signature/;
const SIGNED_AT = /timestamp|nonce|(^|-)ts$|^date$|^x-amz-date$/;

/** Per-attempt headers: never in the scope even when a pattern would take them (documented in DESIGN §1). */
export const PER_ATTEMPT_HEADERS: readonly string[] = [
  'traceparent',
  'tracestate',
  'baggage',
  'sentry-trace',
  'x-request-id',
  'request-id',
  'x-correlation-id',
  'x-amzn-trace-id',
  'date',
  'x-amz-date',
  'user-agent',
  'content-length',
  'content-type',
];

export interface ScopeConfig {
  /**
   * Always in (lower-case), even where a per-attempt rule would drop them: the user's
   * `credentialHeaders` and every known preset's `tenantHeaders` (config.ts gathers them).
   */
  credentialHeaders: ReadonlySet<string>;
  /** The user's `volatileHeaders`: never in (lower-case). */
  volatileHeaders: ReadonlySet<string>;
  keyHeader: string;
  scope: ((request: RequestView) => string | undefined) | undefined;
}

type Role = 'identity' | 'signature' | 'none';

/** The hash that scopes a key: the user's `scope` function, or the default scope above. */
export function scopeOf(view: RequestView, userinfo: string | undefined, config: ScopeConfig): string {
  if (config.scope) {
    const value = config.scope(view);
    if (value !== undefined && typeof value !== 'string') {
      throw new KeyDerivationError('The scope function must return a string or undefined');
    }
    return hashParts(['scope', value ?? '']);
  }
  const parts: string[] = [];
  let signatures: string[] | undefined;
  let signedAt = false;
  for (const name in view.headers) {
    const value = view.headers[name];
    if (value === undefined) continue;
    if (SIGNED_AT.test(name)) signedAt = true;
    const role = roleOf(name, config);
    if (role === 'identity') parts.push(name);
    else if (role === 'signature') {
      signatures ??= [];
      signatures.push(name);
    }
  }
  // A signature header beside a timestamp is per-attempt: it identifies no one the other headers
  // do not. Alone (nothing else identifies the caller) it stays in: a missed deduplication at worst.
  if (signatures && !(signedAt && parts.length > 0)) parts.push(...signatures);
  const headers = view.headers;
  // RFC 9421: the signer is the keyid of Signature-Input; the signature itself is per-attempt.
  const rfc9421 = headers['signature-input'] !== undefined && keyIds(headers['signature-input']) !== '';
  parts.sort();
  const material: string[] = ['scope/v2'];
  for (const name of parts) {
    if (rfc9421 && name === 'signature') continue;
    material.push(name, stableIdentity(name, headers[name]!, rfc9421));
  }
  if (userinfo !== undefined) material.push('url-userinfo', userinfo);
  return hashPartsRemembered(material);
}

function roleOf(name: string, config: ScopeConfig): Role {
  if (config.credentialHeaders.has(name)) return 'identity';
  if (config.volatileHeaders.has(name) || name === config.keyHeader || KEY_CARRIER.test(name)) return 'none';
  if (PER_ATTEMPT_HEADERS.includes(name)) return 'none';
  if (name === 'authorization' || name === 'proxy-authorization' || name === 'signature-input')
    return 'identity';
  if (SIGNATURE.test(name)) return 'signature';
  if (CREDENTIAL.test(name) || TENANT.test(name)) return 'identity';
  return 'none';
}

const SIGV4 = /^AWS4-[A-Z0-9-]+\s+Credential=([^/,\s]+)\/\d{8}\/([^/,\s]+)\/([^/,\s]+)\//;
const CAVAGE_KEY_ID = /(?:^|[\s,])keyId="([^"]*)"/i;

/** The part of a credential header that names the signer and does not change per attempt. */
function stableIdentity(name: string, value: string, rfc9421: boolean): string {
  if (name === 'authorization' || name === 'proxy-authorization') {
    const sigv4 = SIGV4.exec(value);
    if (sigv4) return `aws4 ${sigv4[1]}/${sigv4[2]}/${sigv4[3]}`;
    if (/^Signature\s/i.test(value)) {
      const keyId = CAVAGE_KEY_ID.exec(value);
      if (keyId) return `signature keyId=${keyId[1]}`;
    }
    return value;
  }
  if (name === 'signature-input' && rfc9421) return `keyid=${keyIds(value)}`;
  if (name === 'signature') {
    // draft-cavage HTTP Signatures may send `Signature: keyId="…",signature="…"` as a header.
    const keyId = CAVAGE_KEY_ID.exec(value);
    if (keyId) return `signature keyId=${keyId[1]}`;
  }
  return value;
}

/** The `keyid` parameters of an RFC 9421 Signature-Input (one per signature), or `''`. */
function keyIds(value: string): string {
  const ids: string[] = [];
  for (const match of value.matchAll(/;\s*keyid="([^"]*)"/gi)) ids.push(match[1]!);
  return ids.sort().join(',');
}

/** URL userinfo (`https://user:pw@host`): a credential, so a scope part, never part of the target. */
export function userinfoOf(url: string): string | undefined {
  const match = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)@/.exec(url);
  return match ? match[1] : undefined;
}
