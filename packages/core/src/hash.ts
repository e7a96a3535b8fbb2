import { hash } from 'node:crypto';

/**
 * SHA-256 (hex) over an unambiguous encoding of `parts`: each part is prefixed with its
 * byte length, so `['a', 'bc']` and `['ab', 'c']` never hash alike.
 */
export function hashParts(parts: ReadonlyArray<string | Uint8Array>): string {
  // One string and one one-shot hash: each `update` of a streaming hash crosses into C++, and
  // that crossing, not SHA-256 itself, was most of the cost for key-sized inputs.
  let text = '';
  let bytes: Buffer[] | undefined;
  for (const part of parts) {
    if (typeof part === 'string') {
      text += `${Buffer.byteLength(part)}:${part}`;
      continue;
    }
    bytes ??= [];
    bytes.push(
      Buffer.from(text),
      Buffer.from(`${part.byteLength}:`),
      Buffer.from(part.buffer, part.byteOffset, part.byteLength),
    );
    text = '';
  }
  if (!bytes) return hash('sha256', text, 'hex');
  bytes.push(Buffer.from(text));
  return hash('sha256', Buffer.concat(bytes), 'hex');
}
