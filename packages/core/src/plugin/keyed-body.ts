import type { ExecuteOptions, Idempotency, OutgoingRequest } from '../types.js';
import { isReusableBody, type ReadBody, readBody } from './body.js';

/**
 * Stands in for a one-shot body when asking core whether the request has a key without one: core
 * refuses to fingerprint anything async-iterable, so only an explicit key (or a key rule) passes.
 */
const ONE_SHOT_BODY: AsyncIterable<never> = {
  async *[Symbol.asyncIterator]() {},
};

/**
 * The body of a client that cannot hand a consumed stream to its own retries: a one-shot body
 * (stream, generator, encoded FormData) is read, up to `maxBytes`, only once the request has a key
 * without it, so a refusal reads nothing. Throws `KeyDerivationError` when it has none.
 */
export async function readKeyedBody(
  idem: Idempotency,
  request: OutgoingRequest,
  options: ExecuteOptions,
  maxBytes: number,
): Promise<ReadBody> {
  if (isReusableBody(request.body)) return readBody(request.body, maxBytes, 'iterables');
  idem.keyFor({ ...request, body: ONE_SHOT_BODY }, options);
  return readBody(request.body, maxBytes, 'all');
}
