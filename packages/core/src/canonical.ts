import { isUtf8 } from 'node:buffer';
import { configure } from 'safe-stable-stringify';
import { MAX_JSON_DEPTH, scanJson } from './canonical-json.js';
import { KeyDerivationError } from './errors.js';
import {
  bytesAsText,
  decodeComponent,
  formPairs,
  joinPairs,
  type Pair,
  sortPairs,
  withFormField,
} from './form-pairs.js';
import { memoize } from './memo.js';
import type { RequestBody } from './types.js';

/**
 * The canonical form of each kind of body (docs/DESIGN.md §1 has the table):
 * - JSON text (`application/json`, `*+json`, `text/json`): canonical-json.ts — members sorted,
 *   whitespace gone, numbers as written, escapes normalised; a UTF-8 BOM is dropped. Invalid UTF-8
 *   bytes, invalid JSON, or duplicate member names: the bytes themselves (duplicates also make the
 *   body ambiguous, see derive.ts).
 * - A JSON-able value handed to `execute`: sorted-key JSON of the value as `JSON.stringify` would
 *   write it (boxed primitives unboxed); an ArrayBuffer view (DataView, Int16Array, …) is its bytes.
 * - Form bodies: byte-exact pairs sorted by name (form-pairs.ts).
 * - Multipart: the body cut at its delimiter lines, the pieces length-prefixed (no boundary).
 * - Anything else: the bytes.
 * The media type (`fingerprintMediaType`) is a separate part of the fingerprint.
 */

/** Sorted keys, throws on cycles, bigint as a number: one canonical JSON text per value. */
const stableStringify = configure({ circularValue: Error, bigint: true, deterministic: true });

/**
 * `JSON.stringify` writes a boxed primitive (`new Number(5)`, `new String('x')`, `new Boolean(true)`)
 * as the primitive; safe-stable-stringify would write `{}` or `{"0":"x"}`. A replacer (one function,
 * not one per call) unboxes them, so the canonical text is the text that is sent.
 */
function unboxed(_key: string, value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (
    value instanceof Number ||
    value instanceof String ||
    value instanceof Boolean ||
    value instanceof BigInt
  )
    return value.valueOf();
  return value;
}

export type BodyKind = 'none' | 'json' | 'form' | 'bytes';

/** A body reduced to what identifies it: the canonical text (JSON, form) or the raw bytes. */
export interface CanonicalBody {
  kind: BodyKind;
  /** Canonical text for json/form; raw bytes (or text) otherwise. */
  canonical: string | Uint8Array;
  /**
   * Parsed value for json (as `JSON.parse` reads it: numbers beyond 2^53 lose digits, read
   * `text` for those) and form (record of arrays, values read as UTF-8); `undefined` for bytes.
   * Computed on first read.
   */
  readonly parsed: unknown;
  /** The body as text when it is text; used by key functions and reconcile hooks. */
  text: string | undefined;
  /** Set when the body means different things to different parsers (a duplicate member name). */
  ambiguous?: string | undefined;
  /** json: the JSON text scanned (BOM dropped). form: the body as a byte string. */
  source?: string | undefined;
  /**
   * The UTF-8 length of `canonical` when known without counting (ASCII canonical JSON, a
   * serialised value whose size was checked): the fingerprint hash then needs no second count.
   */
  canonicalBytes?: number | undefined;
}

const EMPTY: CanonicalBody = { kind: 'none', canonical: '', parsed: undefined, text: undefined };

const JSON_TYPES = new Set(['application/json', 'text/json', 'text/x-json', 'application/x-json']);

function mediaType(contentType: string): string {
  return contentType.split(';', 1)[0]!.trim().toLowerCase();
}

function isJsonType(type: string): boolean {
  return JSON_TYPES.has(type) || type.endsWith('+json');
}

/** Which canonical form a content type selects: one parse per distinct header value. */
function bodyType(contentType: string | undefined): 'json' | 'form' | 'other' {
  return contentType ? bodyTypeOf(contentType) : 'other';
}

const bodyTypeOf = memoize((contentType: string): 'json' | 'form' | 'other' => {
  const type = mediaType(contentType);
  if (isJsonType(type)) return 'json';
  return type === 'application/x-www-form-urlencoded' ? 'form' : 'other';
}, 256);

/**
 * The media type as the fingerprint reads it: the same bytes as `application/merge-patch+json`
 * and as `application/json`, or as `text/plain` and `image/png`, are different requests. The
 * essence lower-cased, then the parameters sorted (names lower-cased, quotes undone), without:
 * a multipart `boundary` (random per serialisation; the canonical body holds none), and a JSON
 * type's `charset` (JSON text is UTF-8 whatever it says, RFC 8259 §8.1). Every other parameter
 * stays, `charset` of every other type with it (lower-cased): it changes what the bytes say.
 * Remembered per distinct header value.
 */
export const fingerprintMediaType: (contentType: string) => string = memoize(parseMediaType, 256);

function parseMediaType(contentType: string): string {
  const semi = contentType.indexOf(';');
  const essence = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (semi < 0) return essence;
  const json = isJsonType(essence);
  let boundaryDropped = !essence.startsWith('multipart/');
  const params: string[] = [];
  const n = contentType.length;
  let k = semi + 1;
  while (k < n) {
    // One parameter, up to the next ';' outside a quoted string; whitespace outside quotes is no part of it.
    let name = '';
    let value = '';
    let hasValue = false;
    let quoted = false;
    for (; k < n; k++) {
      const c = contentType[k]!;
      if (quoted) {
        if (c === '\\' && k + 1 < n) value += contentType[++k];
        else if (c === '"') quoted = false;
        else value += c;
      } else if (c === ';') break;
      else if (c === ' ' || c === '\t') continue;
      else if (!hasValue) {
        if (c === '=') hasValue = true;
        else name += c;
      } else if (c === '"') quoted = true;
      else value += c;
    }
    k++;
    name = name.toLowerCase();
    if (name === '') continue;
    if (name === 'boundary' && !boundaryDropped) {
      boundaryDropped = true; // a second boundary parameter stays: parsers may read either
      continue;
    }
    if (name === 'charset') {
      if (json) continue;
      value = value.toLowerCase();
      // A form body's default charset is UTF-8 (WHATWG URL): saying so changes nothing (axios adds
      // it to URLSearchParams bodies, a hand-set header usually omits it).
      if (essence === 'application/x-www-form-urlencoded' && (value === 'utf-8' || value === 'utf8'))
        continue;
    }
    params.push(hasValue ? `${name}=${JSON.stringify(value)}` : name);
  }
  params.sort();
  return params.length === 0 ? essence : `${essence};${params.join(';')}`;
}

/** True for bodies that can be read once only (streams, iterables, Blob, FormData). */
export function isOneShotBody(body: unknown): boolean {
  if (body === null || typeof body !== 'object') return false;
  if (ArrayBuffer.isView(body) || isArrayBuffer(body) || body instanceof URLSearchParams) return false;
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
 * Reduces a wire body to its canonical form. Throws `KeyDerivationError` for bodies that cannot
 * be canonicalised (one-shot bodies, cycles, over `maxBytes`).
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
  const type = bodyType(contentType);
  if (typeof body === 'string') {
    checkSize(body.length, maxBytes); // cheap lower bound first; exact for ASCII
    if (type === 'form') return canonicalForm(bytesAsText(body), maxBytes);
    if (type === 'json') return canonicalJsonText(body);
    return { kind: 'bytes', canonical: withoutBoundary(body, contentType), parsed: undefined, text: body };
  }
  if (ArrayBuffer.isView(body) || isArrayBuffer(body)) {
    // Any view (DataView, Int16Array, a Buffer slice) is the bytes it covers, as fetch sends them.
    const bytes =
      body instanceof Uint8Array
        ? body
        : ArrayBuffer.isView(body)
          ? new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
          : new Uint8Array(body);
    checkSize(bytes.byteLength, maxBytes);
    if (type === 'form') return canonicalForm(bytesAsText(bytes), maxBytes);
    // Bytes that are not UTF-8 would decode to U+FFFD and read alike: they stay bytes.
    if (type === 'json' && isUtf8(bytes)) {
      return canonicalJsonText(
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
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
  const bytes = Buffer.byteLength(text);
  checkSize(bytes, maxBytes);
  return { kind: 'json', canonical: text, parsed: body, text, source: text, canonicalBytes: bytes };
}

function isArrayBuffer(body: object): body is ArrayBuffer | SharedArrayBuffer {
  return (
    body instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer !== 'undefined' && body instanceof SharedArrayBuffer)
  );
}

function canonicalJsonText(raw: string): CanonicalBody {
  // A UTF-8 BOM is no part of the JSON text (RFC 8259 §8.1 lets parsers ignore it; users expect that).
  const text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
  const scan = scanJson(text);
  if (scan.ok) {
    const body = new ParsedOnRead('json', scan.canonical, text, text, parseJson);
    if (scan.ascii) body.canonicalBytes = scan.canonical.length;
    return body;
  }
  // Declared JSON but not JSON (or ambiguous): the bytes themselves are the identity.
  return {
    kind: 'bytes',
    canonical: raw,
    parsed: undefined,
    text: raw,
    ambiguous:
      scan.reason === 'duplicate'
        ? `the member name '${scan.member}' appears twice`
        : scan.reason === 'deep'
          ? `it nests deeper than ${MAX_JSON_DEPTH} levels`
          : undefined,
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // the scanner is a little wider than JSON.parse (never narrower in meaning)
  }
}

/**
 * A body whose `parsed` is computed on first read: most writes never look at the parsed body.
 * A class (not a per-call `defineProperty`): the getter lives once on the prototype, and the
 * object keeps a fast shape.
 */
class ParsedOnRead implements CanonicalBody {
  private value: unknown;
  private done = false;
  /** Set by the creator when known; a copy with another canonical text does not inherit it. */
  canonicalBytes: number | undefined = undefined;
  constructor(
    readonly kind: BodyKind,
    readonly canonical: string,
    readonly text: string | undefined,
    readonly source: string,
    private readonly parse: (source: string) => unknown,
  ) {}

  get parsed(): unknown {
    if (!this.done) {
      this.value = this.parse(this.source);
      this.done = true;
    }
    return this.value;
  }

  /** The same body identified by another canonical text (fields ignored); parsed stays shared. */
  withCanonical(canonical: string): CanonicalBody {
    const copy = new ParsedOnRead(this.kind, canonical, this.text, this.source, this.parse);
    copy.value = this.value;
    copy.done = this.done;
    return copy;
  }
}

/**
 * Multipart bodies carry a random boundary chosen per serialisation, so the same form serialised
 * twice must have one identity without the boundary. Only delimiter lines are the boundary:
 * `--<boundary>` at the very start or right after CRLF (the close delimiter `--<boundary>--`
 * starts the same way). The body is cut there and the pieces are written length-prefixed (`S`
 * first when the body starts with a delimiter): the boundary's text inside content stays content,
 * and no content, not even a line that looks like a delimiter of another boundary, can read as a
 * cut. Given the boundary, the canonical form gives back the exact bytes.
 */
function withoutBoundary<T extends string | Uint8Array>(
  body: T,
  contentType: string | undefined,
): T | Uint8Array {
  const boundary =
    contentType && /^\s*multipart\//i.test(contentType)
      ? /boundary="?([^";]+)"?/i.exec(contentType)?.[1]
      : undefined;
  if (!boundary) return body;
  const text = bytesAsText(body);
  const first = `--${boundary}`;
  const atStart = text.startsWith(first);
  let out = atStart ? 'S' : '';
  for (const piece of (atStart ? text.slice(first.length) : text).split(`\r\n${first}`))
    out += `${piece.length}:${piece}`;
  return Buffer.from(out, 'latin1');
}

function canonicalForm(byteText: string, maxBytes: number): CanonicalBody {
  checkSize(byteText.length, maxBytes);
  const pairs = sortPairs(formPairs(byteText));
  const text = Buffer.from(byteText, 'latin1').toString('utf8');
  return new ParsedOnRead('form', joinPairs(pairs), text, byteText, parseForm);
}

/** A form body as a record of arrays, names and values read as UTF-8. */
function parseForm(byteText: string): Record<string, string[]> {
  const parsed: Record<string, string[]> = {};
  for (const [name, value] of sortPairs(formPairs(byteText))) {
    const decoded = decodeComponent(name);
    parsed[decoded] ??= [];
    parsed[decoded].push(value === null ? '' : decodeComponent(value));
  }
  return parsed;
}

function stringifyValue(value: unknown): string {
  let text: string | undefined;
  try {
    text = stableStringify(value, unboxed);
  } catch (error) {
    // A value nested deeper than the stack allows overflows it: say so, not "a cycle".
    const message = error instanceof Error ? error.message : '';
    const why =
      error instanceof RangeError && /call stack/i.test(message)
        ? ' (it nests too deeply)'
        : /circular/i.test(message)
          ? ' (it contains a cycle)'
          : ' (serialising it threw)';
    throw new KeyDerivationError(`The request body cannot be serialised${why}`, error);
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

// ---------------------------------------------------------------------------------------------
// Key rules on a canonical body: fields picked, fields ignored, a provider's key field written.

/** The canonical text of the body without the `ignore`d paths (they identify nothing). */
export function canonicalWithout(body: CanonicalBody, paths: readonly string[]): CanonicalBody {
  if (body.kind === 'json') {
    const scan = scanJson(body.source!, { omit: paths });
    return scan.ok ? withCanonical(body, scan.canonical) : body;
  }
  if (body.kind === 'form') {
    const names = new Set(paths.map((path) => formPairs(bytesAsText(path))[0]?.[0]));
    return withCanonical(body, joinPairs(formPairsOf(body).filter(([name]) => !names.has(name))));
  }
  return body;
}

/** `{"<path>": <canonical value>, …}` of the key `fields`; throws naming a missing one. */
export function canonicalFields(body: CanonicalBody, fields: readonly string[]): string {
  if (body.kind !== 'json' && body.kind !== 'form') {
    throw new KeyDerivationError(
      body.ambiguous
        ? `Key fields (${fields.join(', ')}) cannot be read: ${body.ambiguous}, so parsers disagree on the body`
        : `Key fields (${fields.join(', ')}) need a JSON or form body`,
    );
  }
  const values = new Map<string, string>();
  if (body.kind === 'json') {
    const scan = scanJson(body.source!, { pick: fields });
    for (const [path, picked] of (scan.ok && scan.picked) || []) values.set(path, picked.canonical);
  } else {
    const pairs = formPairsOf(body);
    for (const path of fields) {
      const name = formPairs(bytesAsText(path))[0]?.[0];
      const found = pairs.filter((pair) => pair[0] === name).map((pair) => pair[1]);
      if (found.length > 0) values.set(path, JSON.stringify(found));
    }
  }
  let out = '';
  for (const path of [...fields].sort()) {
    const value = values.get(path);
    if (value === undefined)
      throw new KeyDerivationError(`Key field '${path}' is missing from the request body`);
    out += `${out === '' ? '{' : ','}${JSON.stringify(path)}:${value}`;
  }
  return `${out}}`;
}

/** The body with a top-level `field` set to the string `value`, every other byte as it was. */
export function withBodyField(body: CanonicalBody, field: string, value: string): string | Uint8Array {
  if (body.kind === 'form') return withFormField(body.source!, field, value);
  const source = body.source!;
  const quoted = JSON.stringify(value);
  const scan = scanJson(source, { pick: [field] });
  const at = scan.ok ? scan.picked?.get(field) : undefined;
  if (at) return `${source.slice(0, at.start)}${quoted}${source.slice(at.end)}`;
  const open = source.indexOf('{');
  const empty = /^\s*\}/.test(source.slice(open + 1));
  return `${source.slice(0, open + 1)}${JSON.stringify(field)}:${quoted}${empty ? '' : ','}${source.slice(open + 1)}`;
}

function withCanonical(body: CanonicalBody, canonical: string): CanonicalBody {
  // A spread would evaluate (and drop) a ParsedOnRead's getter: copy through the class instead.
  return body instanceof ParsedOnRead ? body.withCanonical(canonical) : { ...body, canonical };
}

function formPairsOf(body: CanonicalBody): Pair[] {
  return sortPairs(formPairs(body.source!));
}
