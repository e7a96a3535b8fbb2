import { createHash } from 'node:crypto';

/**
 * SHA-256 (hex) over an unambiguous encoding of `parts`: each part is prefixed with its
 * byte length, so `['a', 'bc']` and `['ab', 'c']` never hash alike.
 */
export function hashParts(parts: ReadonlyArray<string | Uint8Array>): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    // Strings go to the hash as UTF-8 directly: no intermediate Buffer per part.
    hash.update(`${typeof part === 'string' ? Buffer.byteLength(part) : part.byteLength}:`);
    hash.update(part);
  }
  return hash.digest('hex');
}
