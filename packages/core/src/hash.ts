import { createHash } from 'node:crypto';

/**
 * SHA-256 (hex) over an unambiguous encoding of `parts`: each part is prefixed with its
 * byte length, so `['a', 'bc']` and `['ab', 'c']` never hash alike.
 */
export function hashParts(parts: ReadonlyArray<string | Uint8Array>): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    hash.update(`${bytes.byteLength}:`);
    hash.update(bytes);
  }
  return hash.digest('hex');
}
