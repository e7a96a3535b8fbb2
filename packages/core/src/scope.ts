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

/** Names that carry a credential (`jwt`: `X-Jwt-Assertion`; `pass`, `pin`, `otp`, `sid` as words). */
const CREDENTIAL =
  /token|secret|passw|session|credential|cookie|auth|key|jwt|(^|[-_])(pass|passphrase|passcode|pin|otp|sid)$/;
/**
 * Names that carry a tenant or the user acted for: `Stripe-Account`, `OpenAI-Organization`,
 * `X-Tenant-Id`, `X-Tenantid`, `orgId`, `X-User-Id`, `X-Hasura-Role`, `X-Shopify-Shop-Domain`,
 * `X-Forwarded-User`, `X-Ms-Client-Principal-Id`, … (a word at the end, optionally `id`/`domain`).
 */
const TENANT =
  /(^|[-_])(account|acct|tenant|org|organi[sz]ation|project|workspace|team|merchant|company|realm|user|username|uid|customer|client|consumer|partner|business|brand|store|shop|site|domain|location|instance|environment|subscription|role|principal|caller|login|email)([-_]?(id|domain))?$/;
/** Impersonation: GitLab `Sudo`, `X-On-Behalf-Of`, `Act-As`, `X-Impersonate-User`, … */
const ON_BEHALF = /(^|[-_])sudo$|impersonat|on-behalf-of|(^|[-_])(act|run)-as([-_]|$)/;
/**
 * Not an identity but the operation itself, chosen by a header rather than by the URL (AWS JSON
 * APIs' `X-Amz-Target`, SOAP 1.1 `SOAPAction`, method overrides), and the virtual host a request
 * names apart from the URL's: two operations must never share a key.
 */
const OPERATION_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'x-amz-target',
  'soapaction',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
]);
/** Carry the operation's key (ours, the provider's or an SDK's per-call one), not an identity. */
const KEY_CARRIER = /idempotency/;
/** Signature headers: `X-Signature`, `X-Hub-Signature`, `CB-ACCESS-SIGN`, `X-Hmac`, `X-Sig`. */
const SIGNATURE = /signature|(^|[-_])(sign|sig|hmac)$/;
/** Headers that make a signature per-attempt: a timestamp, a nonce, an expiry. */
const SIGNED_AT = /timestamp|nonce|expir|(^|[-_])(ts|time)$|^date$|^x-amz-date$/;
/**
 * Headers that name the signing key itself (the id of the secret a signature is made with):
 * `X-Api-Key`, `CB-ACCESS-KEY`, `X-MBX-APIKEY`, `X-Access-Key-Id`, `X-Key-Id`. Beside one of
 * these (or an Authorization naming a key id), a signature over a timestamp identifies no one
 * more. Anything else (`Cookie`, `X-CSRF-Token`, a Bearer token) may be shared by tenants who
 * sign with different secrets, so the signature stays in.
 */
const SIGNER_KEY_ID = /api[-_]?key|access[-_]?key|key[-_]?id/;

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
  for (const name in view.headers) {
    const value = view.headers[name];
    if (value === undefined) continue;
    const role = roleOf(name, config);
    if (role === 'identity') parts.push(name);
    else if (role === 'signature') {
      signatures ??= [];
      signatures.push(name);
    }
  }
  const headers = view.headers;
  // A signature over a timestamp is per-attempt, and beside the id of the key it is made with it
  // identifies no one that id does not: it goes. Beside anything weaker (a cookie, a shared token)
  // or alone it stays in: two tenants signing with two secrets never share a key (a missed
  // deduplication at worst; `volatileHeaders` drops it, `credentialHeaders` keeps it).
  if (signatures && !(isSignedAt(headers) && namesSigner(parts, headers))) parts.push(...signatures);
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
  if (CREDENTIAL.test(name) || TENANT.test(name) || ON_BEHALF.test(name) || OPERATION_HEADERS.has(name))
    return 'identity';
  return 'none';
}

/** Does the request carry a timestamp, nonce or expiry header (what makes a signature per-attempt)? */
function isSignedAt(headers: RequestView['headers']): boolean {
  for (const name in headers) if (headers[name] !== undefined && SIGNED_AT.test(name)) return true;
  return false;
}

/**
 * Does an identity header name the key a signature is made with? An Authorization that names a
 * key id (AWS SigV4 `Credential=`, draft-cavage `keyId=`), or a key-id header (`SIGNER_KEY_ID`).
 * Runs only for requests that carry a signature header.
 */
function namesSigner(parts: readonly string[], headers: RequestView['headers']): boolean {
  for (const name of parts) {
    const value = headers[name];
    if (value === undefined || value === '') continue;
    if (name === 'authorization' || name === 'proxy-authorization') {
      if (SIGV4.test(value) || (/^Signature\s/i.test(value) && CAVAGE_KEY_ID.test(value))) return true;
    } else if (SIGNER_KEY_ID.test(name)) return true;
  }
  return false;
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
