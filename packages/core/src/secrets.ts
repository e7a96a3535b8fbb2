/**
 * What oncely never stores raw. Names are matched by pattern, not by a fixed list: an API's own
 * spelling of a credential (`private_token`, `hapikey`, `X-Amz-Signature`, `x-access-token`) is
 * caught without oncely knowing the API. A false positive costs readability only (a query value
 * is hashed, a response header is not replayed); a false negative would leak a secret.
 */

/** Query parameter names whose values are replaced by their hash in the stored target. */
const SECRET_QUERY_NAME =
  /token|secret|passw|pwd|session|signature|credential|key|jwt|bearer|authori[sz]ation|(^|[-_.])(auth|sig|code)([-_.]|$)/i;

/** Response header names never stored (so never replayed). */
const SECRET_RESPONSE_HEADER =
  /cookie|authori[sz]ation|authenticate|token|secret|passw|session|credential|signature|api-?key|access-?key|private-?key/i;

export function isSecretQueryName(name: string): boolean {
  return SECRET_QUERY_NAME.test(name);
}

/** `extra`: the user's `sensitiveResponseHeaders`, lower-case, in addition to the pattern. */
export function isSecretResponseHeader(name: string, extra?: ReadonlySet<string>): boolean {
  return SECRET_RESPONSE_HEADER.test(name) || (extra?.has(name.toLowerCase()) ?? false);
}

/**
 * Header values that could split a response in two when written back (CR, LF, NUL): refused
 * wherever a response is written from outside the wire (reconcile hooks, operators).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: CR, LF and NUL are what it refuses
const UNSAFE_HEADER_VALUE = /[\r\n\u0000]/;

/** The first header whose name or value cannot be written safely, or `undefined`. */
export function unsafeHeader(headers: Record<string, string | string[]>): string | undefined {
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return name;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v !== 'string' || UNSAFE_HEADER_VALUE.test(v)) return name;
    }
  }
  return undefined;
}
