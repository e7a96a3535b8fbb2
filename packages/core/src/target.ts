import { createHash } from 'node:crypto';
import { KeyDerivationError } from './errors.js';
import { memoize } from './memo.js';

/**
 * Query parameters that carry credentials. Their values never reach the store: the target keeps a
 * hash in their place (so two credentials still give two targets, and two keys).
 */
const SECRET_QUERY_PARAMS = new Set([
  'access_token',
  'api_key',
  'apikey',
  'api-key',
  'auth',
  'client_secret',
  'key',
  'password',
  'secret',
  'sig',
  'signature',
  'token',
]);
const MAY_HOLD_SECRET = new RegExp(`[?&](${[...SECRET_QUERY_PARAMS].join('|')})=`, 'i');

const parseOften = memoize(parseTarget);

/**
 * Normalised target: lower-case scheme and host (the URL parser does both), default port
 * dropped, credentials and fragment dropped, path as sent, query parameters sorted by name,
 * credential-carrying query values replaced by their hash. Parsed once per distinct URL, except
 * URLs that carry a credential, which are never cached.
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
    const params = new URLSearchParams(parsed.search);
    params.sort();
    for (const [name, value] of params) {
      if (SECRET_QUERY_PARAMS.has(name.toLowerCase())) params.set(name, redact(value));
    }
    query = `?${params.toString()}`;
  }
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}${query}`;
}

function redact(value: string): string {
  return `redacted-${createHash('sha256').update(value).digest('hex').slice(0, 16)}`;
}
