import { createHash } from 'node:crypto';
import { KeyDerivationError } from './errors.js';
import { formPairs, joinPairs, sortPairs } from './form-pairs.js';
import { memoize } from './memo.js';
import { isSecretQueryName } from './secrets.js';

const parseOften = memoize(parseTarget);
/** A cheap pre-test: could any query parameter name be a credential? (then the URL is never cached) */
const MAY_HOLD_SECRET =
  /[?&][^=&#]*(token|secret|passw|pwd|session|sig|credential|key|jwt|bearer|auth|code)/i;

/**
 * Normalised target: lower-case scheme and host (the URL parser does both), default port
 * dropped, userinfo and fragment dropped (userinfo is a credential: it goes into the scope, see
 * scope.ts), path as sent, query pairs compared at byte level and sorted by name (form-pairs.ts),
 * credential-carrying query values replaced by their hash. Parsed once per distinct URL, except
 * URLs that may carry a credential, which are never cached.
 */
export function normaliseTarget(url: string): string {
  return MAY_HOLD_SECRET.test(url) ? parseTarget(url) : parseOften(url);
}

function parseTarget(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new KeyDerivationError('The request URL is not an absolute URL');
  }
  let query = '';
  if (parsed.search.length > 1) {
    // `search` is ASCII: the URL parser percent-encodes every other byte.
    const pairs = sortPairs(formPairs(parsed.search.slice(1)));
    for (const pair of pairs) if (isSecretQueryName(pair[0])) pair[1] = redact(pair[1]);
    query = `?${joinPairs(pairs)}`;
  }
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}${query}`;
}

function redact(value: string): string {
  return `redacted-${createHash('sha256').update(value).digest('hex').slice(0, 16)}`;
}
