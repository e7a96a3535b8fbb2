/**
 * Canonical JSON text from JSON text, in one pass, without parsing into JavaScript values:
 * numbers keep the digits they were written with (`9007199254740993` stays distinct from
 * `9007199254740992`, `1e2` from `100`), object members are sorted (UTF-16 order, as
 * `safe-stable-stringify` sorts a parsed object), insignificant whitespace goes, and string
 * escapes are normalised the way `JSON.stringify` writes them. A JSON value handed over as an object
 * and the same value as text therefore give one canonical text.
 *
 * Why not a library: `lossless-json` 4 (the well-kept lossless parser) measured 22 µs to parse a
 * 1 KiB body on the bench machine, plus a sorted stringify, against 9-10 µs for this scanner
 * (the key-derivation budget is 10 µs in all). See docs/DESIGN.md §1.
 *
 * Duplicate member names make the meaning parser-dependent (first wins, last wins, or an error):
 * the scanner reports them instead of choosing.
 */

/**
 * How deep arrays and objects may nest (PHP's `json_decode` default): deeper text is refused, not
 * read (the scanner recurses once per level, and parsers disagree past their own limits: Ruby
 * stops at 100, Python near 1000). The caller treats it like a duplicate member: ambiguous.
 */
export const MAX_JSON_DEPTH = 512;

/** Thrown inside the scanner; never escapes this module. */
class NotJson extends Error {}
class TooDeep extends Error {}
class DuplicateMember extends Error {
  constructor(readonly member: string) {
    super(member);
  }
}

/** Dot paths to leave out (`omit`) or to read (`pick`), as a tree over JSON-quoted member names. */
interface PathNode {
  next: Map<string, PathNode>;
  omit: boolean;
  pick: string | undefined;
}

export interface JsonPathRequest {
  /** Dot paths of object members left out of the canonical text. */
  omit?: readonly string[] | undefined;
  /** Dot paths whose canonical value (and span in the input) is returned. */
  pick?: readonly string[] | undefined;
}

export interface PickedValue {
  canonical: string;
  /** Where the value stands in the input text (`text.slice(start, end)`). */
  start: number;
  end: number;
}

export type JsonScan =
  | { ok: true; canonical: string; picked: Map<string, PickedValue> | undefined }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'duplicate'; member: string }
  | { ok: false; reason: 'deep' };

// Scanner state lives in module variables: one scan runs at a time (it never awaits), and the hot
// path allocates no closure per call.
let s = '';
let i = 0;
let n = 0;
/** Index of the next backslash at or after the current string, or `n`: found once, not per string. */
let nextBackslash = -1;
/** Whether the text holds a raw control character anywhere: checked once, not per string. */
let mayHoldControl = false;
let picked: Map<string, PickedValue> | undefined;
/** Arrays and objects open around the current position. */
let depth = 0;

export function scanJson(text: string, paths?: JsonPathRequest): JsonScan {
  s = text;
  i = 0;
  n = text.length;
  nextBackslash = -1;
  // Outside strings only tab, LF and CR may appear (as whitespace); inside, none may. One native
  // test over the whole text spares one per string token for compact JSON, the common case.
  mayHoldControl = CONTROL.test(text);
  picked = undefined;
  depth = 0;
  const tree = paths && (paths.omit?.length || paths.pick?.length) ? pathTree(paths) : undefined;
  try {
    const canonical = value(tree);
    skipSpace();
    if (i !== n) return { ok: false, reason: 'invalid' };
    return { ok: true, canonical, picked };
  } catch (error) {
    if (error instanceof DuplicateMember) return { ok: false, reason: 'duplicate', member: error.member };
    if (error instanceof TooDeep) return { ok: false, reason: 'deep' };
    if (error instanceof NotJson || error instanceof SyntaxError) return { ok: false, reason: 'invalid' };
    throw error;
  } finally {
    s = '';
    picked = undefined;
  }
}

function pathTree(paths: JsonPathRequest): PathNode {
  const root: PathNode = { next: new Map(), omit: false, pick: undefined };
  const add = (path: string, mark: (node: PathNode) => void) => {
    let node = root;
    for (const part of path.split('.')) {
      const name = JSON.stringify(part);
      let child = node.next.get(name);
      if (!child) {
        child = { next: new Map(), omit: false, pick: undefined };
        node.next.set(name, child);
      }
      node = child;
    }
    mark(node);
  };
  for (const path of paths.omit ?? []) add(path, (node) => (node.omit = true));
  for (const path of paths.pick ?? []) add(path, (node) => (node.pick = path));
  return root;
}

function skipSpace(): void {
  let c = s.charCodeAt(i);
  while (c === 32 || c === 10 || c === 13 || c === 9) c = s.charCodeAt(++i);
}

function value(node: PathNode | undefined): string {
  skipSpace();
  const c = s.charCodeAt(i);
  if (c === 123) return object(node);
  if (c === 91) return array(node);
  if (c === 34) return string();
  if (c === 116 && s.startsWith('true', i)) return literal('true');
  if (c === 102 && s.startsWith('false', i)) return literal('false');
  if (c === 110 && s.startsWith('null', i)) return literal('null');
  return number();
}

function literal(word: string): string {
  i += word.length;
  return word;
}

/** A string token: the input slice itself unless it holds an escape, which is normalised. */
function string(): string {
  const start = i;
  const end = s.indexOf('"', start + 1);
  if (end < 0) throw new NotJson();
  if (nextBackslash < start) {
    nextBackslash = s.indexOf('\\', start);
    if (nextBackslash < 0) nextBackslash = n;
  }
  if (nextBackslash > end) {
    i = end + 1;
    const token = s.slice(start, i);
    if (mayHoldControl && CONTROL.test(token)) throw new NotJson();
    return token;
  }
  let k = start + 1;
  for (;;) {
    if (k >= n) throw new NotJson();
    const c = s.charCodeAt(k);
    if (c === 34) break;
    k += c === 92 ? 2 : 1;
  }
  i = k + 1;
  nextBackslash = -1;
  // JSON.parse validates the escapes (a SyntaxError means not JSON); JSON.stringify writes them
  // as every serialiser of a parsed value would (`\u0041` → `A`, a lone surrogate stays escaped).
  return JSON.stringify(JSON.parse(s.slice(start, i)));
}

/** Raw control characters are not JSON (they must be escaped), as JSON.parse would say. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is what it looks for
const CONTROL = /[\u0000-\u001f]/;

function number(): string {
  const start = i;
  let c = s.charCodeAt(i);
  if (c === 45) c = s.charCodeAt(++i);
  if (c === 48) c = s.charCodeAt(++i);
  else if (c >= 49 && c <= 57) c = digits();
  else throw new NotJson();
  if (c === 46) {
    c = s.charCodeAt(++i);
    if (!(c >= 48 && c <= 57)) throw new NotJson();
    c = digits();
  }
  if (c === 101 || c === 69) {
    c = s.charCodeAt(++i);
    if (c === 43 || c === 45) c = s.charCodeAt(++i);
    if (!(c >= 48 && c <= 57)) throw new NotJson();
    digits();
  }
  return s.slice(start, i);
}

function digits(): number {
  let c: number;
  do c = s.charCodeAt(++i);
  while (c >= 48 && c <= 57);
  return c;
}

/** Enters `{` or `[` (one level deeper); `true` when it closes at once with `closing` (`}` / `]`). */
function openEmpty(closing: number): boolean {
  if (++depth > MAX_JSON_DEPTH) throw new TooDeep();
  i++;
  skipSpace();
  if (s.charCodeAt(i) !== closing) return false;
  i++;
  depth--;
  return true;
}

function object(node: PathNode | undefined): string {
  if (openEmpty(125)) return '{}';
  // Members kept sorted as they arrive (objects are small): decoded name, canonical name, value.
  // Sorting by the decoded name is what a serialiser of the parsed object does.
  const members: string[] = [];
  for (;;) {
    skipSpace();
    if (s.charCodeAt(i) !== 34) throw new NotJson();
    const name = string();
    const decoded = name.indexOf('\\') < 0 ? name.slice(1, -1) : (JSON.parse(name) as string);
    skipSpace();
    if (s.charCodeAt(i) !== 58) throw new NotJson();
    i++;
    const child = node?.next.get(name);
    const start = child?.pick === undefined ? 0 : valueStart();
    const member = value(child);
    if (child?.pick !== undefined) {
      picked ??= new Map();
      picked.set(child.pick, { canonical: member, start, end: i });
    }
    let at = members.length;
    while (at > 0 && members[at - 3]! > decoded) at -= 3;
    if (at > 0 && members[at - 3] === decoded) throw new DuplicateMember(decoded);
    // An omitted member stays in the list (so a duplicate of it is still seen) with no value.
    const kept = child?.omit ? '' : member;
    if (at === members.length) members.push(decoded, name, kept);
    else members.splice(at, 0, decoded, name, kept);
    skipSpace();
    const c = s.charCodeAt(i++);
    if (c === 44) continue;
    if (c === 125) break;
    throw new NotJson();
  }
  let out = '';
  for (let k = 0; k < members.length; k += 3) {
    if (members[k + 2] === '') continue; // omitted (a real value is never empty text)
    out += out === '' ? `{${members[k + 1]}:${members[k + 2]}` : `,${members[k + 1]}:${members[k + 2]}`;
  }
  depth--;
  return out === '' ? '{}' : `${out}}`;
}

function valueStart(): number {
  skipSpace();
  return i;
}

function array(node: PathNode | undefined): string {
  if (openEmpty(93)) return '[]';
  let out = '[';
  for (let index = 0; ; index++) {
    const child = node?.next.get(`"${index}"`);
    const start = child?.pick === undefined ? 0 : valueStart();
    const item = value(child);
    if (child?.pick !== undefined) {
      picked ??= new Map();
      picked.set(child.pick, { canonical: item, start, end: i });
    }
    out += index === 0 ? item : `,${item}`;
    skipSpace();
    const c = s.charCodeAt(i++);
    if (c === 44) continue;
    if (c === 93) break;
    throw new NotJson();
  }
  depth--;
  return `${out}]`;
}
