import { createHash } from 'node:crypto';

/**
 * What oncely never stores raw. Names are matched by pattern, not by a fixed list: an API's own
 * spelling of a credential (`private_token`, `hapikey`, `X-Amz-Signature`, `x-access-token`) is
 * caught without oncely knowing the API. A false positive costs readability only (a query value
 * is hashed, a response header is not replayed); a false negative would leak a secret.
 */

/**
 * Query (and path-parameter) names whose values are replaced by their hash in the stored target:
 * `private_token`, `hapikey`, `X-Amz-Signature`, `jsessionid`, `PHPSESSID`, OpenWeatherMap's
 * `appid`, CAS's `ticket`, and `pass`, `pw`, `pin`, `otp`, `sid`, `code` as words.
 */
const SECRET_QUERY_NAME =
  /token|secret|passw|pwd|sess(ion|id)|signature|credential|key|jwt|bearer|authori[sz]ation|hmac|upload_?id|(^|[-_.])(auth|sig|code|pass|pw|pin|otp|sid|ticket|appid)([-_.]|$)/i;

/**
 * Response header names never stored (so never replayed): cookies, credentials and capabilities,
 * `Authentication-Info` and `WWW-Authenticate` among them, `X-Auth-Key`, `X-Api_Key`,
 * `X-Jwt-Assertion`, and resumable-upload session URLs (`X-Goog-Upload-URL`: whoever holds one can
 * write to the upload).
 */
const SECRET_RESPONSE_HEADER =
  /cookie|authori[sz]ation|authenticat|token|secret|passw|session|credential|signature|jwt|api[-_]?key|access[-_]?key|private[-_]?key|auth[-_]?key|upload[-_](control[-_])?url|(^|[-_])(auth|sig|hmac|otp)([-_]|$)/i;

export function isSecretQueryName(name: string): boolean {
  return SECRET_QUERY_NAME.test(name);
}

/**
 * The stored stand-in for a secret value: a truncated SHA-256, so equal values stay equal (the
 * target stays deterministic, the key with it) and the value cannot be read back. Unkeyed: a
 * low-entropy value (a PIN) can be recovered by trying candidates (docs/DESIGN.md §1).
 */
export function redactValue(value: string): string {
  return `redacted-${createHash('sha256').update(value).digest('hex').slice(0, 16)}`;
}

/**
 * Secrets some APIs carry in the URL path, hashed in place: Telegram's `/bot<id>:<token>/`,
 * Discord's (and compatible) `/webhooks/<id>/<token>`, Microsoft Teams' `/IncomingWebhook/<secret>`,
 * IFTTT's `/with/key/<key>`, and path parameters with a secret's name (`;jsessionid=…`). Slack's
 * `hooks.slack.com/services/T…/B…/<secret>` is handled by host in `redactPath`.
 */
const PATH_SECRET =
  /(\/bot)(\d+:[^/;?#\s<>"]+)|(\/webhooks\/\d+\/)([^/;?#\s<>"]+)|(\/IncomingWebhook\/)([^/;?#\s<>"]+)|(\/with\/key\/)([^/;?#\s<>"]+)|(;)([^/;=?#\s<>"]+)=([^/;?#\s<>"]*)/gi;
/** A cheap pre-test for `PATH_SECRET`: most paths hold none of these. */
const MAY_HOLD_PATH_SECRET = /\/bot\d|\/webhooks\/\d|\/IncomingWebhook\/|\/with\/key\/|;/i;

function redactPathMatch(
  match: string,
  bot: string | undefined,
  botToken: string,
  hook: string | undefined,
  hookToken: string,
  teams: string | undefined,
  teamsSecret: string,
  ifttt: string | undefined,
  iftttKey: string,
  semicolon: string | undefined,
  name: string,
  value: string,
): string {
  if (bot !== undefined) return `${bot}${redactValue(botToken)}`;
  if (hook !== undefined) return `${hook}${redactValue(hookToken)}`;
  if (teams !== undefined) return `${teams}${redactValue(teamsSecret)}`;
  if (ifttt !== undefined) return `${ifttt}${redactValue(iftttKey)}`;
  if (semicolon !== undefined && value !== '' && isSecretQueryName(name))
    return `;${name}=${redactValue(value)}`;
  return match;
}

/** A URL path (as the URL parser gives it) with the secrets it carries hashed; the same string when none. */
export function redactPath(hostname: string, path: string): string {
  let out = MAY_HOLD_PATH_SECRET.test(path) ? path.replace(PATH_SECRET, redactPathMatch) : path;
  if (hostname === 'hooks.slack.com') {
    // `/services/T…/B…/<secret>`, `/triggers/…/<secret>`, `/workflows/…/<secret>`: the last
    // non-empty segment (a trailing slash does not hide it).
    let end = out.length;
    while (end > 1 && out.charCodeAt(end - 1) === 0x2f) end--;
    const cut = out.lastIndexOf('/', end - 1);
    const last = out.slice(cut + 1, end);
    if (cut > 0 && last !== '' && !last.startsWith('redacted-'))
      out = `${out.slice(0, cut + 1)}${redactValue(last)}${out.slice(end)}`;
  }
  return out;
}

/** Response headers whose value is a URL (or URLs) that may carry a signed or secret query. */
const URL_VALUED_HEADER = /^(location|content-location|link|refresh)$/i;
/** `?name=value` / `&name=value` inside a header value (a URL or a Link list). */
const QUERY_PARAM = /([?&])([^=&#\s<>"',;]+)=([^&#\s<>"',;]*)/g;

function redactQueryMatch(match: string, separator: string, name: string, value: string): string {
  return value !== '' && isSecretQueryName(name) ? `${separator}${name}=${redactValue(value)}` : match;
}

function redactUrlText(text: string): string {
  const path = redactPath('', text);
  return path.includes('=') ? path.replace(QUERY_PARAM, redactQueryMatch) : path;
}

/**
 * A response header value as it may be stored: for `Location`, `Content-Location`, `Link` and
 * `Refresh`, values of secret-looking query parameters (`X-Amz-Signature`, `X-Amz-Security-Token`,
 * `token`, …) and path secrets (`/bot<token>/`) are replaced by their hash; every other header is
 * returned as it is. For responses.ts, which drops the headers `isSecretResponseHeader` names.
 */
export function redactHeaderValue<T extends string | string[]>(name: string, value: T): T {
  if (!URL_VALUED_HEADER.test(name)) return value;
  if (typeof value === 'string') return redactUrlText(value) as T;
  return value.map(redactUrlText) as T;
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
