import { REPLAYED_HEADER } from '../responses.js';

type HeaderGetter = { get(name: string): unknown };
type HeaderRecord = Record<string, unknown>;

/**
 * Whether nothing was sent for this call (store replay, coalesced twin, reconciled outcome): core
 * marks such responses with the `oncely-replayed: true` header. Takes a response whose headers are
 * a record (undici, got) or have `get` (fetch, axios).
 */
export function isReplayed(response: { headers: HeaderRecord | HeaderGetter }): boolean {
  const { headers } = response;
  const value =
    typeof headers.get === 'function'
      ? (headers as HeaderGetter).get(REPLAYED_HEADER)
      : (headers as HeaderRecord)[REPLAYED_HEADER];
  return value === 'true';
}
