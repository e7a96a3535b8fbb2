import { isIterableBody, type ReadBody, readBody } from '@oncely/core/plugin';

/**
 * A body reader that remembers what it buffered per handler. undici's retry interceptor re-dispatches
 * with the same handler and, for an iterable body, a new wrapper around the iterable the first
 * attempt already drained: re-reading it would send an empty body under another key. A retry must
 * carry the first attempt's bytes so core sees the same operation.
 */
export function rememberingReader(maxBytes: number) {
  const buffered = new WeakMap<object, ReadBody>();
  return async (body: unknown, handler: object): Promise<ReadBody> => {
    const earlier = buffered.get(handler);
    if (earlier && isIterableBody(body)) return earlier;
    // Streams and FormData stay unread: core refuses them without a key, and then nothing was read.
    const read = await readBody(body, maxBytes, 'iterables');
    if (isIterableBody(body) && !read.oneShot) buffered.set(handler, read);
    return read;
  };
}
