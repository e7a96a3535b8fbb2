import { KeyDerivationError } from './errors.js';
import { formPairs, joinPairs, sortPairs } from './form-pairs.js';
import { isSecretQueryName, redactPath, redactValue } from './secrets.js';

/** Targets of URLs that carry no credential (no userinfo, nothing redacted), by URL. */
const cache = new Map<string, string>();
const CACHE_MAX = 512;
// The last URL parsed, uncached or not: the engine and derive ask for one URL twice in a row, and
// `userinfoOf` reads the userinfo of the same parse. Held for one request, never stored.
let lastUrl: string | undefined;
let lastTarget = '';
let lastUserinfo: string | undefined;

/**
 * Normalised target: lower-case scheme and host (the URL parser does both), default port
 * dropped, userinfo and fragment dropped (userinfo is a credential: it goes into the scope, see
 * scope.ts), path as sent except path-borne secrets (secrets.ts `redactPath`: Telegram bot tokens,
 * webhook tokens, `;jsessionid=`), query pairs compared at byte level and sorted by name
 * (form-pairs.ts), credential-carrying query values replaced by their hash. Parsed once per
 * distinct URL, except URLs that carry a credential, which are never cached.
 */
export function normaliseTarget(url: string): string {
  const hit = cache.get(url);
  if (hit !== undefined) return hit;
  return url === lastUrl ? lastTarget : parseTarget(url);
}

/**
 * The URL's userinfo (`user:password`, as the WHATWG parser reads it), or `undefined`. Read from the
 * same parse as the target, so every spelling the parser accepts counts (` https://u:p@h`,
 * `https:\\u:p@h`, `https:u:p@h`): a userinfo is a credential and belongs in the scope.
 */
export function userinfoOf(url: string): string | undefined {
  if (url === lastUrl) return lastUserinfo;
  // The parser takes a userinfo only before a literal '@'; cached URLs have none.
  if (!url.includes('@') || cache.has(url)) return undefined;
  parseTarget(url);
  return lastUserinfo;
}

function parseTarget(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new KeyDerivationError('The request URL is not an absolute URL');
  }
  const path = redactPath(parsed.hostname, parsed.pathname);
  let secret = path !== parsed.pathname;
  let query = '';
  if (parsed.search.length > 1) {
    // `search` is ASCII: the URL parser percent-encodes every other byte.
    const pairs = sortPairs(formPairs(parsed.search.slice(1)));
    for (const pair of pairs) {
      if (pair[1] !== null && isSecretQueryName(pair[0])) {
        pair[1] = redactValue(pair[1]);
        secret = true;
      }
    }
    query = `?${joinPairs(pairs)}`;
  }
  const target = `${parsed.protocol}//${parsed.host}${path}${query}`;
  const userinfo =
    parsed.username !== '' || parsed.password !== '' ? `${parsed.username}:${parsed.password}` : undefined;
  lastUrl = url;
  lastTarget = target;
  lastUserinfo = userinfo;
  if (!secret && userinfo === undefined) {
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
    cache.set(url, target);
  }
  return target;
}
