import { configure } from 'safe-stable-stringify';
import { KeyDerivationError } from './errors.js';
import type { RequestBody } from './types.js';

/** Sorted keys, throws on cycles, bigint as a number: one canonical JSON text per value. */
const stableStringify = configure({ circularValue: Error, bigint: true, deterministic: true });

export type BodyKind = 'none' | 'json' | 'form' | 'bytes';

/** A body reduced to what identifies it: the canonical text (JSON, form) or the raw bytes. */
export interface CanonicalBody {
  kind: BodyKind;
  /** Canonical text for json/form; raw bytes otherwise. */
  canonical: string | Uint8Array;
  /** Parsed value for json (any) and form (record of arrays); `undefined` for bytes. */
  parsed: unknown;
  /** The body as text when it is text; used by key functions and reconcile hooks. */
  text: string | undefined;
}

const EMPTY: CanonicalBody = { kind: 'none', canonical: '', parsed: undefined, text: undefined };

export function isJsonType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json');
}

export function isFormType(contentType: string | undefined): boolean {
  return !!contentType && contentType.toLowerCase().startsWith('application/x-www-form-urlencoded');
}

/** True for bodies that can be read once only (streams, iterables, Blob, FormData). */
export function isOneShotBody(body: unknown): boolean {
  if (body === null || typeof body !== 'object') return false;
  if (body instanceof Uint8Array || body instanceof ArrayBuffer || body instanceof URLSearchParams)
    return false;
  return (
    typeof (body as { pipe?: unknown }).pipe === 'function' ||
    typeof (body as { getReader?: unknown }).getReader === 'function' ||
    Symbol.asyncIterator in body ||
    // Sync iterables that are not arrays (generators, Set, Map) would serialise as `{}`: refuse them.
    (Symbol.iterator in body && !Array.isArray(body)) ||
    (typeof Blob !== 'undefined' && body instanceof Blob) ||
    (typeof FormData !== 'undefined' && body instanceof FormData)
  );
}

/**
 * Reduces a wire body to its canonical form: JSON is re-serialised with sorted keys, form bodies
 * become sorted pairs, other bytes stay bytes. Throws `KeyDerivationError` for bodies that cannot be
 * canonicalised (one-shot bodies, cycles, over `maxBytes`).
 */
export function canonicalBody(
  body: RequestBody,
  contentType: string | undefined,
  maxBytes: number,
): CanonicalBody {
  if (body === undefined || body === null) return EMPTY;
  if (isOneShotBody(body)) {
    throw new KeyDerivationError(
      'The request body is a stream, iterable, Blob or FormData and cannot be canonicalised',
    );
  }
  if (body instanceof URLSearchParams) return canonicalForm(body.toString(), maxBytes);
  if (typeof body === 'string') return canonicalText(body, contentType, maxBytes);
  if (body instanceof Uint8Array || body instanceof ArrayBuffer) {
    const bytes = body instanceof ArrayBuffer ? new Uint8Array(body) : body;
    checkSize(bytes.byteLength, maxBytes);
    if (isJsonType(contentType) || isFormType(contentType)) {
      return canonicalText(
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
        contentType,
        maxBytes,
      );
    }
    return {
      kind: 'bytes',
      canonical: withoutBoundary(bytes, contentType),
      parsed: undefined,
      text: undefined,
    };
  }
  // A JSON-able value handed to execute() directly.
  const text = stringifyValue(body);
  checkSize(Buffer.byteLength(text), maxBytes);
  return { kind: 'json', canonical: text, parsed: body, text };
}

/**
 * Multipart bodies carry a random boundary chosen per serialisation: it is replaced by a fixed one,
 * so the same form serialised twice has one identity.
 */
function withoutBoundary(bytes: Uint8Array, contentType: string | undefined): Uint8Array {
  const boundary =
    contentType && /^multipart\//i.test(contentType)
      ? /boundary="?([^";]+)"?/i.exec(contentType)?.[1]
      : undefined;
  if (!boundary) return bytes;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  return Buffer.from(text.split(boundary).join('oncely-boundary'), 'latin1');
}

function canonicalText(text: string, contentType: string | undefined, maxBytes: number): CanonicalBody {
  checkSize(text.length, maxBytes); // cheap lower bound first; exact for ASCII
  if (isFormType(contentType)) return canonicalForm(text, maxBytes);
  if (isJsonType(contentType)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Declared JSON but not JSON: the bytes themselves are the identity.
      return { kind: 'bytes', canonical: text, parsed: undefined, text };
    }
    return { kind: 'json', canonical: stringifyValue(parsed), parsed, text };
  }
  return {
    kind: 'bytes',
    canonical: /^multipart\//i.test(contentType ?? '')
      ? withoutBoundary(Buffer.from(text), contentType)
      : text,
    parsed: undefined,
    text,
  };
}

function canonicalForm(text: string, maxBytes: number): CanonicalBody {
  checkSize(text.length, maxBytes);
  const pairs = [...new URLSearchParams(text)];
  // Stable sort by name only: the order of repeated names (a=1&a=2) can be meaningful.
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const parsed: Record<string, string[]> = {};
  for (const [name, value] of pairs) {
    const values = parsed[name] ?? [];
    values.push(value);
    parsed[name] = values;
  }
  return { kind: 'form', canonical: new URLSearchParams(pairs).toString(), parsed, text };
}

function stringifyValue(value: unknown): string {
  let text: string | undefined;
  try {
    text = stableStringify(value);
  } catch (error) {
    throw new KeyDerivationError('The request body cannot be serialised (it contains a cycle)', error);
  }
  if (text === undefined) throw new KeyDerivationError('The request body is not JSON-serialisable');
  return text;
}

function checkSize(bytes: number, maxBytes: number): void {
  if (bytes > maxBytes) {
    throw new KeyDerivationError(
      `The request body is ${bytes} bytes, over the ${maxBytes}-byte canonicalisation cap (maxBodyBytes)`,
    );
  }
}

/** Canonical JSON text of any value (sorted keys). */
export function canonicalJson(value: unknown): string {
  return stringifyValue(value);
}
