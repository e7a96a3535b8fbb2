/*
 * Keys an SDK invents per call. stripe-node puts `Idempotency-Key: stripe-node-retry-<uuid4>` on
 * every POST (RequestSender `_defaultIdempotencyKey`), and Stainless-built SDKs (openai,
 * anthropic, …) `stainless-node-retry-<uuid4>` (`defaultIdempotencyKey`). The SDK keeps the key
 * across its own retries, but a re-run of the job, or a second concurrent run, gets a new one —
 * so taken as the operation's key it would make every run a new write. Such a key is treated as
 * absent: oncely derives the key (route rule or body) and writes its own stable key into the
 * header instead. A key the caller chose is never matched by these.
 */

/** Prefixes of per-call keys that known SDKs generate. Extend with the `sdkKeys` option. */
export const SDK_KEY_PREFIXES: readonly string[] = Object.freeze([
  'stripe-node-retry-',
  'stainless-node-retry-',
]);

/** A matcher for SDK-generated keys: the defaults and the user's prefixes or patterns. */
export function sdkKeyMatcher(extra: ReadonlyArray<string | RegExp> = []): (value: string) => boolean {
  const prefixes = [...SDK_KEY_PREFIXES, ...extra.filter((p): p is string => typeof p === 'string')];
  const patterns = extra.filter((p): p is RegExp => p instanceof RegExp);
  return (value) =>
    prefixes.some((prefix) => value.startsWith(prefix)) || patterns.some((re) => re.test(value));
}
