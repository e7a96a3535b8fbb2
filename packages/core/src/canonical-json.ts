/**
 * Canonical JSON text from JSON text, in one pass, without parsing into JavaScript values:
 * numbers keep the digits they were written with (`9007199254740993` stays distinct from
 * `9007199254740992`, `1e2` from `100`), object members are sorted (UTF-16 order, as
 * `safe-stable-stringify` sorts a parsed object), insignificant whitespace goes, and string
 * escapes are normalised the way `JSON.stringify` writes them. A JSON value handed over as an object
 * and the same value as text therefore give one canonical text.
 *
 * Why not a library: `lossless-json` 4 (the well-kept lossless parser) measured 22 µs to parse a
 * 1 KiB body on the bench machine, plus a sorted stringify, against 9-10 µs for this scanner then
 * and ~5 µs now (the key-derivation budget is 10 µs in all). See docs/DESIGN.md §1.
 *
 * Where the time goes: per token, not per character (native `indexOf` finds a string's end). What
 * is canonical as written (most of a body) is sliced out of the input, never rebuilt.
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
  | {
      ok: true;
      canonical: string;
      picked: Map<string, PickedValue> | undefined;
      /** The canonical text is ASCII: its UTF-8 length is its length (the hash needs no count). */
      ascii: boolean;
    }
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
/** Whether a string token with an escape was normalised (its text may be other than the input's). */
let normalised = false;
/** Whether the string token just scanned held an escape (set by `stringToken`). */
let escaped = false;
let picked: Map<string, PickedValue> | undefined;
/** Arrays and objects open around the current position. */
let depth = 0;

/**
 * What a value scan returns: its canonical text, or `null` when the canonical text is the input
 * itself, from where the value starts to `i`. Most of a body is already canonical (numbers,
 * literals, strings without escapes, often whole objects): it is sliced out of the input once,
 * in runs as long as possible, instead of being rebuilt piece by piece (which cost most of a
 * key derivation, in allocations and in flattening the result before hashing).
 */
type Canon = string | null;

// The members of the objects being scanned, one stack for all nesting levels (a member is pushed
// once its value is scanned, so an object's members are contiguous): for member `m`,
// `spans[4m..4m+3]` = name start, name end, value start, value end (input indexes); `names[m]` /
// `values[m]` its canonical name / value when not the input itself (`values[m] === ''`: omitted);
// `keys[m]` the decoded name when it held an escape (else the input between the quotes is the
// name). `order[base..top)` is the object's members sorted by decoded name.
const spans: number[] = [];
const names: Canon[] = [];
const values: Canon[] = [];
const keys: Array<string | null> = [];
const order: number[] = [];
let top = 0;
/** How many member slots hold references into the last text (cleared after each scan). */
let used = 0;

export function scanJson(text: string, paths?: JsonPathRequest): JsonScan {
  s = text;
  i = 0;
  n = text.length;
  nextBackslash = -1;
  // Outside strings only tab, LF and CR may appear (as whitespace); inside, none may. One native
  // test over the whole text spares one per string token for compact JSON, the common case.
  // Printable ASCII only (compact JSON, the usual body): one test answers both whether a string
  // may hold a control character and whether the canonical text is ASCII.
  const plain = !NOT_PLAIN.test(text);
  mayHoldControl = !plain && CONTROL.test(text);
  normalised = false;
  picked = undefined;
  depth = 0;
  top = 0;
  const tree = paths && (paths.omit?.length || paths.pick?.length) ? pathTree(paths) : undefined;
  try {
    skipSpace();
    const start = i;
    const canon = scanValue(tree);
    const canonical = canon ?? s.slice(start, i);
    skipSpace();
    if (i !== n) return { ok: false, reason: 'invalid' };
    // Made of input characters only (no escape rewritten, `\u00e9` becomes `é`): ASCII if the input is.
    return { ok: true, canonical, picked, ascii: plain && !normalised };
  } catch (error) {
    if (error instanceof DuplicateMember) return { ok: false, reason: 'duplicate', member: error.member };
    if (error instanceof TooDeep) return { ok: false, reason: 'deep' };
    if (error instanceof NotJson || error instanceof SyntaxError) return { ok: false, reason: 'invalid' };
    throw error;
  } finally {
    s = '';
    picked = undefined;
    // Slices of the text (and texts built from it) would keep it alive until the next scan.
    for (let k = 0; k < used; k++) {
      names[k] = null;
      values[k] = null;
      keys[k] = null;
    }
    used = 0;
    for (let k = 0; k < framesUsed; k++) {
      const f = frames[k]!;
      f.node = f.child = undefined;
      f.out = '';
      f.name = f.key = null;
    }
    framesUsed = 0;
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

/** A string token's canonical text (`null`: as written), set by `stringToken`. */
let token: Canon = null;

/**
 * The string token at `p` (a quote): sets `token` and `escaped`, returns the index after it. The
 * input itself unless it holds an escape, which is normalised.
 */
function stringToken(p: number): number {
  const end = s.indexOf('"', p + 1);
  if (end < 0) throw new NotJson();
  if (nextBackslash < p) {
    nextBackslash = s.indexOf('\\', p);
    if (nextBackslash < 0) nextBackslash = n;
  }
  if (nextBackslash > end) {
    if (mayHoldControl) {
      for (let k = p + 1; k < end; k++) if (s.charCodeAt(k) < 32) throw new NotJson();
    }
    escaped = false;
    token = null;
    return end + 1;
  }
  let k = p + 1;
  for (;;) {
    if (k >= n) throw new NotJson();
    const c = s.charCodeAt(k);
    if (c === 34) break;
    k += c === 92 ? 2 : 1;
  }
  nextBackslash = -1;
  escaped = true;
  normalised = true;
  // JSON.parse validates the escapes (a SyntaxError means not JSON); JSON.stringify writes them
  // as every serialiser of a parsed value would (`\u0041` → `A`, a lone surrogate stays escaped).
  const raw = s.slice(p, k + 1);
  const normal = JSON.stringify(JSON.parse(raw));
  token = normal === raw ? null : normal;
  return k + 1;
}

/** Raw control characters are not JSON (they must be escaped), as JSON.parse would say. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is what it looks for
const CONTROL = /[\u0000-\u001f]/;
/** Anything but printable ASCII: a control character or a non-ASCII one. */
const NOT_PLAIN = /[^\u0020-\u007f]/;

/** The number at `p`: the index after it (its canonical text is the input, digits as written). */
function numberEnd(p: number): number {
  let c = s.charCodeAt(p);
  if (c === 45) c = s.charCodeAt(++p);
  if (c === 48) c = s.charCodeAt(++p);
  else if (c >= 49 && c <= 57) {
    do c = s.charCodeAt(++p);
    while (c >= 48 && c <= 57);
  } else throw new NotJson();
  if (c === 46) {
    c = s.charCodeAt(++p);
    if (!(c >= 48 && c <= 57)) throw new NotJson();
    do c = s.charCodeAt(++p);
    while (c >= 48 && c <= 57);
  }
  if (c === 101 || c === 69) {
    c = s.charCodeAt(++p);
    if (c === 43 || c === 45) c = s.charCodeAt(++p);
    if (!(c >= 48 && c <= 57)) throw new NotJson();
    do c = s.charCodeAt(++p);
    while (c >= 48 && c <= 57);
  }
  return p;
}

/** An array or object being scanned (one per nesting level, reused across scans). */
class Frame {
  object = false;
  /** Index of the `[` / `{`. */
  open = 0;
  node: PathNode | undefined = undefined;
  /** The path node of the value being scanned in it. */
  child: PathNode | undefined = undefined;
  // Arrays: the item index, and the canonical text so far (`out`, then the run `runStart..runEnd`
  // of items as written, one comma apart, still to be sliced).
  index = 0;
  out = '';
  runStart = -1;
  runEnd = -1;
  // Objects: the first member's slot, and the member whose value is being scanned.
  base = 0;
  nameStart = 0;
  nameEnd = 0;
  name: Canon = null;
  key: string | null = null;
}
const frames: Frame[] = [];
/** How many frames hold references into the last text (cleared after each scan). */
let framesUsed = 0;

/**
 * Scans the value at `i` and sets `i` after it. One loop with an explicit stack of open arrays and
 * objects rather than a recursive descent: the position stays in a local (a register) on the hot
 * path, and a value costs no call per level.
 */
function scanValue(tree: PathNode | undefined): Canon {
  const text = s;
  let p = i;
  let sp = 0;
  let node = tree;
  let canon: Canon;
  let start: number;
  for (;;) {
    // One value at p: a scalar (canon, start..p) or an empty container; or a container is opened.
    let c = text.charCodeAt(p);
    while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++p);
    start = p;
    canon = null;
    if (c === 34) {
      p = stringToken(p);
      canon = token;
    } else if (c === 123 || c === 91) {
      if (++depth > MAX_JSON_DEPTH) throw new TooDeep();
      const closing = c + 2; // `}` / `]`
      c = text.charCodeAt(++p);
      while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++p);
      if (c === closing) {
        p++;
        depth--;
        if (p !== start + 2) canon = closing === 125 ? '{}' : '[]';
      } else {
        if (sp === framesUsed) {
          if (sp === frames.length) frames.push(new Frame());
          framesUsed++;
        }
        const f = frames[sp++]!;
        f.open = start;
        f.node = node;
        if (closing === 93) {
          f.object = false;
          f.index = 0;
          f.out = '';
          f.runStart = -1;
          f.runEnd = -1;
          node = node === undefined ? undefined : node.next.get('"0"');
          f.child = node;
        } else {
          f.object = true;
          f.base = top;
          p = memberName(f, p);
          node = f.child;
        }
        continue;
      }
    } else if (c === 116 && text.startsWith('true', p)) p += 4;
    else if (c === 102 && text.startsWith('false', p)) p += 5;
    else if (c === 110 && text.startsWith('null', p)) p += 4;
    else p = numberEnd(p);

    // Hand the value to the container it is in; a container it closes is handed on in turn.
    for (;;) {
      if (sp === 0) {
        i = p;
        return canon;
      }
      const f = frames[sp - 1]!;
      const child = f.child;
      if (child?.pick !== undefined) {
        picked ??= new Map();
        picked.set(child.pick, { canonical: canon ?? text.slice(start, p), start, end: p });
      }
      if (f.object) {
        const m = top++;
        if (top > used) used = top;
        spans[4 * m] = f.nameStart;
        spans[4 * m + 1] = f.nameEnd;
        spans[4 * m + 2] = start;
        spans[4 * m + 3] = p;
        names[m] = f.name;
        // An omitted member stays in the list (so a duplicate of it is still seen) with no value.
        values[m] = child?.omit ? '' : canon;
        keys[m] = f.key;
        insertMember(f.base, m);
      } else if (canon === null && f.runStart >= 0 && start === f.runEnd + 1) f.runEnd = p;
      else {
        if (f.runStart >= 0) {
          const run = text.slice(f.runStart, f.runEnd);
          f.out = f.out === '' ? run : `${f.out},${run}`;
        }
        if (canon === null) {
          f.runStart = start;
          f.runEnd = p;
        } else {
          f.runStart = -1;
          f.out = f.out === '' ? canon : `${f.out},${canon}`;
        }
      }
      c = text.charCodeAt(p);
      while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++p);
      p++;
      if (c === 44) {
        if (f.object) p = memberName(f, p);
        else {
          f.index++;
          f.child = f.node === undefined ? undefined : f.node.next.get(`"${f.index}"`);
        }
        node = f.child;
        break;
      }
      if (c !== (f.object ? 125 : 93)) throw new NotJson();
      depth--;
      sp--;
      start = f.open;
      if (f.object) {
        canon = closeObject(f.base, start, p);
        top = f.base;
      } else {
        canon = closeArray(f, start, p);
        f.out = '';
      }
    }
  }
}

/**
 * The member name at `p` (after `{` or `,`) and its colon, recorded in `f`; returns the index
 * after the colon.
 */
function memberName(f: Frame, p: number): number {
  let c = s.charCodeAt(p);
  while (c === 32 || c === 10 || c === 13 || c === 9) c = s.charCodeAt(++p);
  if (c !== 34) throw new NotJson();
  f.nameStart = p;
  p = stringToken(p);
  f.nameEnd = p;
  f.name = token;
  // Members sort by the decoded name, as a serialiser of the parsed object sorts them.
  f.key = escaped ? (JSON.parse(s.slice(f.nameStart, p)) as string) : null;
  c = s.charCodeAt(p);
  while (c === 32 || c === 10 || c === 13 || c === 9) c = s.charCodeAt(++p);
  if (c !== 58) throw new NotJson();
  f.child = f.node === undefined ? undefined : f.node.next.get(token ?? s.slice(f.nameStart, f.nameEnd));
  return p + 1;
}

function closeArray(f: Frame, open: number, p: number): Canon {
  let out = f.out;
  if (f.runStart >= 0) {
    // All items in one run from just after `[` to just before `]`: canonical as written.
    if (out === '' && f.runStart === open + 1 && f.runEnd === p - 1) return null;
    const run = s.slice(f.runStart, f.runEnd);
    out = out === '' ? run : `${out},${run}`;
  }
  return `[${out}]`;
}

/** `a` before `b` (< 0), the same name (0), or after (> 0), by decoded name in UTF-16 order. */
function compareNames(a: number, b: number): number {
  const ka = keys[a];
  const kb = keys[b];
  if (ka === null && kb === null) {
    // Neither holds an escape: compare the input between the quotes, allocating nothing.
    let x = spans[4 * a]! + 1;
    let y = spans[4 * b]! + 1;
    const xEnd = spans[4 * a + 1]! - 1;
    const yEnd = spans[4 * b + 1]! - 1;
    for (; x < xEnd && y < yEnd; x++, y++) {
      const d = s.charCodeAt(x) - s.charCodeAt(y);
      if (d !== 0) return d;
    }
    return xEnd - x - (yEnd - y);
  }
  const x = ka ?? s.slice(spans[4 * a]! + 1, spans[4 * a + 1]! - 1);
  const y = kb ?? s.slice(spans[4 * b]! + 1, spans[4 * b + 1]! - 1);
  return x < y ? -1 : x > y ? 1 : 0;
}

function duplicate(m: number): DuplicateMember {
  return new DuplicateMember(keys[m] ?? s.slice(spans[4 * m]! + 1, spans[4 * m + 1]! - 1));
}

/** Member `m` is `"name":value` in the input exactly as its canonical text. */
function asWritten(m: number): boolean {
  return names[m] === null && values[m] === null && spans[4 * m + 2] === spans[4 * m + 1]! + 1;
}

/**
 * Places member `m` in `order[base..m]`, kept sorted as members arrive so a duplicate is reported
 * as soon as it is read: the last member first (input already in order costs one comparison), else
 * a binary search.
 */
function insertMember(base: number, m: number): void {
  let at = m;
  if (m > base) {
    const last = compareNames(order[m - 1]!, m);
    if (last === 0) throw duplicate(m);
    if (last > 0) {
      let lo = base;
      let hi = m - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const c = compareNames(order[mid]!, m);
        if (c === 0) throw duplicate(m);
        if (c > 0) hi = mid;
        else lo = mid + 1;
      }
      for (let k = m; k > lo; k--) order[k] = order[k - 1]!;
      at = lo;
    }
  }
  order[at] = m;
}

/**
 * The canonical text of the object whose members are `base..top` and which closed before `p`.
 * Written out in sorted order; members next to each other both in the input and in the order,
 * each as written and one comma apart, are one slice of the input.
 */
function closeObject(base: number, open: number, p: number): Canon {
  const end = top;
  let out = '';
  let runs = 0;
  let runStart = -1;
  let runEnd = -1;
  for (let k = base; k < end; k++) {
    const m = order[k]!;
    if (values[m] === '') continue;
    let text: string;
    if (asWritten(m)) {
      let last = m;
      while (
        k + 1 < end &&
        order[k + 1] === last + 1 &&
        asWritten(last + 1) &&
        spans[4 * last + 4] === spans[4 * last + 3]! + 1
      ) {
        last++;
        k++;
      }
      runStart = spans[4 * m]!;
      runEnd = spans[4 * last + 3]!;
      text = s.slice(runStart, runEnd);
    } else {
      text = `${names[m] ?? s.slice(spans[4 * m]!, spans[4 * m + 1])}:${values[m] ?? s.slice(spans[4 * m + 2]!, spans[4 * m + 3])}`;
    }
    runs++;
    out = out === '' ? text : `${out},${text}`;
  }
  // One run from the first member to the closing brace, with nothing between: canonical as written.
  if (runs === 1 && runStart === open + 1 && runEnd === p - 1) return null;
  return `{${out}}`;
}
