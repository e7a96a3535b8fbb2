import { hash } from 'node:crypto';

/**
 * SHA-256 (hex) over an unambiguous encoding of `parts`: each part is prefixed with its
 * byte length, so `['a', 'bc']` and `['ab', 'c']` never hash alike.
 */
export function hashParts(parts: ReadonlyArray<string | Uint8Array>, lastBytes?: number): string {
  // One input and one one-shot hash: each `update` of a streaming hash crosses into C++, and
  // that crossing, not SHA-256 itself, was most of the cost for key-sized inputs.
  if (parts.every((part) => typeof part === 'string'))
    return hash('sha256', encodeParts(parts, lastBytes), 'hex');
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const bytes =
      typeof part === 'string'
        ? Buffer.from(part)
        : Buffer.from(part.buffer, part.byteOffset, part.byteLength);
    chunks.push(Buffer.from(`${bytes.byteLength}:`), bytes);
  }
  return hash('sha256', Buffer.concat(chunks), 'hex');
}

/**
 * The length-prefixed encoding `hashParts` hashes, for string parts. `lastBytes`: the UTF-8 length
 * of the last part, when the caller knows it (a canonical body): counting a 1 KiB body cost about
 * a tenth of its key derivation.
 */
export function encodeParts(parts: readonly string[], lastBytes?: number): string {
  let text = '';
  const last = parts.length - 1;
  for (let k = 0; k <= last; k++) {
    const part = parts[k]!;
    text += `${k === last && lastBytes !== undefined ? lastBytes : Buffer.byteLength(part)}:${part}`;
  }
  return text;
}

/**
 * `hashParts` of string parts, remembered for the last few hundred distinct inputs. For scopes:
 * one process sends under a handful of credentials, so the same hash is computed on every write.
 * The inputs (which hold credentials) stay in this process's memory, where the request headers
 * already are; they never reach a store.
 */
export function hashPartsRemembered(parts: readonly string[]): string {
  const text = encodeParts(parts);
  let hex = remembered.get(text);
  if (hex === undefined) {
    if (remembered.size >= REMEMBERED_MAX) remembered.clear();
    hex = hash('sha256', text, 'hex');
    remembered.set(text, hex);
  }
  return hex;
}

const REMEMBERED_MAX = 256;
const remembered = new Map<string, string>();
