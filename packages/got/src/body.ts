import { Buffer } from 'node:buffer';
import { KeyDerivationError } from '@oncely/core';

/** A body got can send again and again, and core can fingerprint. */
export type ReusableBody = string | Uint8Array | undefined;

/** Strings and byte views are reusable as they are; everything else (streams, iterables, FormData) is not. */
export function asReusable(body: unknown): ReusableBody | null {
  if (body === undefined || typeof body === 'string') return body;
  if (body instanceof Uint8Array) return body;
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  return null;
}

/**
 * Stands in for a one-shot body when asking core whether the request has a key without one: core
 * refuses to fingerprint anything async-iterable, so only an explicit key (or a key rule) passes.
 */
export const ONE_SHOT_BODY: AsyncIterable<never> = {
  async *[Symbol.asyncIterator]() {},
};

/**
 * Reads a one-shot body (stream, generator, iterable, encoded FormData) into memory, so that
 * got's retries and core's re-sends send the same bytes. Over `maxBytes` it stops: nothing was sent.
 */
export async function drain(body: unknown, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<unknown>) {
    const bytes = toBuffer(chunk);
    size += bytes.byteLength;
    if (size > maxBytes) {
      (body as { destroy?: () => void }).destroy?.();
      throw new KeyDerivationError(
        `The request body stream is over the ${maxBytes}-byte buffering cap (maxBodyBytes); oncely buffers one-shot bodies so that a retry re-sends the same bytes`,
      );
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks);
}

function toBuffer(chunk: unknown): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk);
  if (ArrayBuffer.isView(chunk)) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new KeyDerivationError('The request body yields chunks that are neither strings nor bytes');
}
