import { KeyDerivationError } from './errors.js';
import { memoize } from './memo.js';

/**
 * Normalised target: lower-case scheme and host (the URL parser does both), default port
 * dropped, credentials and fragment dropped, path as sent, query parameters sorted by name.
 */
export const normaliseTarget: (url: string) => string = memoize(parseTarget);

function parseTarget(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new KeyDerivationError(`The request URL '${url}' is not an absolute URL`);
  }
  let query = '';
  if (parsed.search.length > 1) {
    const params = new URLSearchParams(parsed.search);
    params.sort();
    query = `?${params.toString()}`;
  }
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}${query}`;
}
