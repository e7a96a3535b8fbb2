import { IdempotencyError, REPLAYED_HEADER } from '@oncely/core';

/**
 * The oncely error behind a failed call: `undici.request` rejects with it directly, fetch wraps it
 * as the `cause` of its `TypeError('fetch failed')`. `undefined` for any other error.
 */
export function oncelyErrorOf(error: unknown): IdempotencyError | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 3; depth++) {
    if (current instanceof IdempotencyError) return current;
    current = current.cause;
  }
  return undefined;
}

type FetchHeaders = { get(name: string): string | null };
type RecordHeaders = Record<string, string | string[] | undefined>;

/**
 * Whether the response was replayed (nothing sent for this call): header `oncely-replayed: true`.
 * Takes an `undici.request` result or a fetch `Response`.
 */
export function isReplayed(response: { headers: RecordHeaders | FetchHeaders }): boolean {
  const { headers } = response;
  const value =
    typeof headers.get === 'function'
      ? (headers as FetchHeaders).get(REPLAYED_HEADER)
      : (headers as RecordHeaders)[REPLAYED_HEADER];
  return value === 'true';
}
