import { ConfigError, type RequestBody } from '@oncely/core';

/** The request body twice: what core derives the key from, and what goes on the wire. */
export interface ReadBody {
  /** Bytes or text core can fingerprint; the one-shot body itself when it could not be buffered. */
  forKey: RequestBody;
  /** Re-sendable bytes or text, or the one-shot body (sendable once, and only with an explicit key). */
  wire: unknown;
  /** True when `wire` can be read once only. */
  oneShot: boolean;
}

const NONE: ReadBody = { forKey: undefined, wire: undefined, oneShot: false };

/**
 * Buffers what can be buffered so every attempt re-sends the same bytes: strings, bytes, Blobs and
 * the (async) iterables fetch and users pass, up to `maxBytes`. Streams and FormData stay as they
 * are: core refuses them without an explicit key.
 */
export async function readBody(body: unknown, maxBytes: number): Promise<ReadBody> {
  if (body === undefined || body === null) return NONE;
  if (typeof body === 'string') return bytes(body);
  if (ArrayBuffer.isView(body)) return bytes(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
  if (body instanceof ArrayBuffer) return bytes(new Uint8Array(body));
  if (isStreamOrForm(body)) return oneShot(body);
  if (body instanceof Blob) {
    return body.size <= maxBytes ? bytes(new Uint8Array(await body.arrayBuffer())) : oneShot(body);
  }
  const iterator = iteratorOf(body);
  return iterator ? drain(iterator, maxBytes) : oneShot(body);
}

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
    const read = await readBody(body, maxBytes);
    if (isIterableBody(body) && !read.oneShot) buffered.set(handler, read);
    return read;
  };
}

function isIterableBody(body: unknown): boolean {
  return (
    typeof body === 'object' &&
    body !== null &&
    !ArrayBuffer.isView(body) &&
    !(body instanceof Blob) &&
    !isStreamOrForm(body) &&
    iterateFn(body) !== undefined
  );
}

function bytes(value: string | Uint8Array): ReadBody {
  return { forKey: value, wire: value, oneShot: false };
}

function oneShot(value: unknown): ReadBody {
  return { forKey: value as RequestBody, wire: value, oneShot: true };
}

/** Node streams and web streams are iterable too, but reading them cannot be undone. */
function isStreamOrForm(body: object): boolean {
  return (
    typeof (body as { pipe?: unknown }).pipe === 'function' ||
    typeof (body as { getReader?: unknown }).getReader === 'function' ||
    body instanceof FormData
  );
}

type AnyIterator = Iterator<unknown> | AsyncIterator<unknown>;

function iteratorOf(body: object): AnyIterator | undefined {
  const iterate = iterateFn(body);
  return iterate ? (iterate.call(body) as AnyIterator) : undefined;
}

function iterateFn(body: object): (() => unknown) | undefined {
  const source = body as Partial<AsyncIterable<unknown> & Iterable<unknown>>;
  const iterate = source[Symbol.asyncIterator] ?? source[Symbol.iterator];
  return typeof iterate === 'function' ? iterate : undefined;
}

async function drain(iterator: AnyIterator, maxBytes: number): Promise<ReadBody> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) return bytes(Buffer.concat(chunks));
    const chunk = toBytes(next.value);
    chunks.push(chunk);
    size += chunk.byteLength;
    // Over the cap: hand the rest on unread; it can still be sent once under an explicit key.
    if (size > maxBytes) return oneShot(rest(chunks, iterator));
  }
}

async function* rest(read: Uint8Array[], iterator: AnyIterator): AsyncGenerator<Uint8Array> {
  yield* read;
  for (;;) {
    const next = await iterator.next();
    if (next.done) return;
    yield toBytes(next.value);
  }
}

function toBytes(chunk: unknown): Uint8Array {
  if (typeof chunk === 'string') return Buffer.from(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new ConfigError(`Request body chunks must be strings or bytes, got ${typeof chunk}`);
}
