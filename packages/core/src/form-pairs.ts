/**
 * Form bodies and query strings compared at byte level. `URLSearchParams` decodes every
 * component as UTF-8 and turns invalid bytes into U+FFFD, so latin-1 `%E9` and `%E8` (or any two
 * invalid sequences) would read alike. Here each component is percent-decoded to bytes and written
 * back in one canonical spelling: unreserved ASCII (`A-Z a-z 0-9 - . _ ~`) as itself, every other
 * byte as `%XX` (upper-case hex). `+` is a space, so `a+b` and `a%20b` are one value; `%2B` stays
 * a plus.
 */

/** `value` is `null` for a segment without `=` (`a`), which Rack reads as nil and `a=` as "". */
export type Pair = [name: string, value: string | null];

const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;
const HEX = '0123456789ABCDEF';

/** Is this byte written as itself in the canonical spelling? */
function unreserved(byte: number): boolean {
  return (
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    byte === 0x2d || // -
    byte === 0x2e || // .
    byte === 0x5f || // _
    byte === 0x7e // ~
  );
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * The canonical spelling of one component. `raw` is a byte string: every char code is one byte
 * (0-255), as `bytesAsText` makes it.
 */
export function canonicalComponent(raw: string): string {
  if (UNRESERVED.test(raw)) return raw;
  let out = '';
  for (let k = 0; k < raw.length; k++) {
    let byte = raw.charCodeAt(k);
    if (byte === 0x2b)
      byte = 0x20; // '+'
    else if (byte === 0x25 && k + 2 < raw.length) {
      const high = hexValue(raw.charCodeAt(k + 1));
      const low = hexValue(raw.charCodeAt(k + 2));
      if (high >= 0 && low >= 0) {
        byte = high * 16 + low;
        k += 2;
      }
    }
    out += unreserved(byte) ? String.fromCharCode(byte) : `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

/** The bytes a canonical component stands for, read as UTF-8 (lossy: for display and key functions only). */
export function decodeComponent(canonical: string): string {
  if (!canonical.includes('%')) return canonical;
  const bytes: number[] = [];
  for (let k = 0; k < canonical.length; k++) {
    const code = canonical.charCodeAt(k);
    if (code === 0x25) {
      bytes.push(hexValue(canonical.charCodeAt(k + 1)) * 16 + hexValue(canonical.charCodeAt(k + 2)));
      k += 2;
    } else bytes.push(code);
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * A form or query string (without `?`) as byte string → canonical pairs, in the order given.
 * Empty segments (`a=1&&b=2`) carry nothing and are dropped, as `URLSearchParams` does; a segment
 * without `=` is a name without a value (`null`): Rack reads `a` as nil and `a=` as "", so the
 * two stay apart.
 */
export function formPairs(byteText: string): Pair[] {
  const pairs: Pair[] = [];
  for (const segment of byteText.split('&')) {
    if (segment === '') continue;
    const eq = segment.indexOf('=');
    pairs.push(
      eq < 0
        ? [canonicalComponent(segment), null]
        : [canonicalComponent(segment.slice(0, eq)), canonicalComponent(segment.slice(eq + 1))],
    );
  }
  return pairs;
}

/**
 * Stable sort by name only: the order of repeated names (`a=1&a=2`) can be meaningful. When any
 * name holds a bracket (`items[][price]`, canonically `items%5B%5D%5Bprice%5D`), the pairs keep
 * their wire order: Rack and PHP build arrays of hashes from the interleaving of different names
 * (`items[][price]=p1&items[][qty]=5&items[][price]=p2` is not the same list as the sorted form).
 */
export function sortPairs(pairs: Pair[]): Pair[] {
  for (let k = 0; k < pairs.length; k++) if (pairs[k]![0].includes('%5B')) return pairs;
  return pairs.sort(byName);
}

function byName(a: Pair, b: Pair): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

export function joinPairs(pairs: readonly Pair[]): string {
  let out = '';
  for (const [name, value] of pairs) {
    const pair = value === null ? name : `${name}=${value}`;
    out += out === '' ? pair : `&${pair}`;
  }
  return out;
}

/**
 * Text as the byte string the wire carries. A JavaScript string goes out as UTF-8; bytes are
 * bytes. Pure-ASCII text is already its own byte string.
 */
export function bytesAsText(body: string | Uint8Array): string {
  if (typeof body !== 'string')
    return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII is 0x00-0x7f
  return /^[\u0000-\u007f]*$/.test(body) ? body : Buffer.from(body, 'utf8').toString('latin1');
}

/**
 * A form body with `name` set to `value` (every earlier pair of that name removed), other bytes
 * untouched: a string when it is ASCII, else the bytes (a string would go out re-encoded as UTF-8).
 */
export function withFormField(byteText: string, name: string, value: string): string | Uint8Array {
  const wanted = canonicalComponent(bytesAsText(name));
  const kept = byteText
    .split('&')
    .filter((segment) => segment !== '' && formPairs(segment)[0]?.[0] !== wanted);
  kept.push(`${wanted}=${canonicalComponent(bytesAsText(value))}`);
  const text = kept.join('&');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII is 0x00-0x7f
  return /^[\u0000-\u007f]*$/.test(text) ? text : Buffer.from(text, 'latin1');
}
