import { Buffer } from 'node:buffer';
import { BodyChunkError, ConfigError } from '../errors.js';
import type { RequestBody } from '../types.js';

/** The request body twice: what core derives the key from, and what goes on the wire. */
export interface ReadBody {
  /** Bytes or text core can fingerprint; the one-shot body itself when it was not buffered. */
  identity: RequestBody;
  /** Re-sendable bytes or text, or the one-shot body (sendable once, and only under an explicit key). */
  wire: unknown;
  /** True when `wire` can be read once only. */
  oneShot: boolean;
}

/**
 * Which one-shot bodies are read into memory. `iterables`: plain (async) iterables and Blobs,
 * which a client may make of any body (fetch does) and which must be read to derive a key; streams
 * and FormData stay unread, so a refusal for want of a key reads nothing. `all`: streams too, for
 * a plugin that has already made sure the request has a key without its body.
 */
export type BodyReads = 'iterables' | 'all';

const NONE: ReadBody = { identity: undefined, wire: undefined, oneShot: false };

/** The rests of over-cap bodies handed on: read again (a client's retry), they would send an empty body. */
const handedOn = new WeakSet<object>();

/**
 * Buffers what `reads` allows, up to `maxBytes`, so every attempt re-sends the same bytes. Over the
 * cap nothing is lost: the body goes on as a one-shot body (the bytes read, then the rest unread),
 * which core sends once under an explicit key and refuses without one, as it does any stream.
 */
export async function readBody(body: unknown, maxBytes: number, reads: BodyReads): Promise<ReadBody> {
  if (body === undefined || body === null) return NONE;
  if (typeof body === 'string') return bytes(body);
  if (ArrayBuffer.isView(body)) return bytes(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
  if (body instanceof ArrayBuffer) return bytes(new Uint8Array(body));
  if (typeof body !== 'object') return oneShot(body);
  if (handedOn.has(body)) {
    throw new ConfigError(
      `This request body was over the ${maxBytes}-byte buffering cap (maxBodyBytes), so it was sent unread and cannot be sent again`,
    );
  }
  if (reads === 'iterables' && isStreamOrForm(body)) return oneShot(body);
  if (body instanceof Blob) {
    return body.size <= maxBytes ? bytes(new Uint8Array(await body.arrayBuffer())) : oneShot(body);
  }
  const iterator = iteratorOf(body);
  return iterator ? drain(iterator, maxBytes) : oneShot(body);
}

/** A body a client can send again and again as it is: text and byte views. */
export function isReusableBody(body: unknown): body is string | Uint8Array | ArrayBufferView | undefined {
  return body === undefined || typeof body === 'string' || ArrayBuffer.isView(body);
}

/** True for a body that is iterated rather than read from a stream (generators, arrays of chunks). */
export function isIterableBody(body: unknown): boolean {
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
  return { identity: value, wire: value, oneShot: false };
}

function oneShot(value: unknown): ReadBody {
  return { identity: value as RequestBody, wire: value, oneShot: true };
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

/** Reads chunk by chunk (not `for await`, whose early exit would destroy a stream we hand on). */
async function drain(iterator: AnyIterator, maxBytes: number): Promise<ReadBody> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) return bytes(Buffer.concat(chunks));
    const chunk = toBytes(next.value);
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size > maxBytes) {
      const remainder = rest(chunks, iterator);
      handedOn.add(remainder);
      return oneShot(remainder);
    }
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
  throw new BodyChunkError(chunk);
}
