import type { Dispatcher } from 'undici';

export type HeaderValue = string | string[];
/** Header name (as the caller spelled it) and value, in the caller's order. */
export type HeaderPairs = Array<[name: string, value: HeaderValue]>;

type UndiciHeaders = Dispatcher.DispatchOptions['headers'];

/**
 * undici accepts headers as a record, a flat `[name, value, …]` array or an iterable of pairs
 * (`Headers`, `Map`); this reads all of them the same way.
 */
export function headerPairs(headers: UndiciHeaders): HeaderPairs {
  if (headers === null || headers === undefined) return [];
  if (Array.isArray(headers)) {
    return Array.isArray(headers[0]) ? fromEntries(headers as Iterable<unknown[]>) : fromFlat(headers);
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    return fromEntries(headers as Iterable<unknown[]>);
  }
  return fromEntries(Object.entries(headers));
}

/** Lower-case names, repeated names merged: the view core derives keys from. */
export function lowerCaseRecord(pairs: HeaderPairs): Record<string, HeaderValue> {
  const out: Record<string, HeaderValue> = {};
  for (const [name, value] of pairs) append(out, name.toLowerCase(), value);
  return out;
}

/**
 * A record in the caller's spelling (first spelling wins for repeated names). A record rather
 * than a flat array, because some interceptors spread `opts.headers` into an object.
 */
export function toRecord(pairs: HeaderPairs): Record<string, HeaderValue> {
  const spelling = new Map<string, string>();
  const out: Record<string, HeaderValue> = {};
  for (const [name, value] of pairs) {
    const lower = name.toLowerCase();
    const first = spelling.get(lower) ?? name;
    spelling.set(lower, first);
    append(out, first, value);
  }
  return out;
}

function fromFlat(flat: unknown[]): HeaderPairs {
  const pairs: HeaderPairs = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (flat[i + 1] !== undefined && flat[i + 1] !== null) pairs.push(pair(flat[i], flat[i + 1]));
  }
  return pairs;
}

function fromEntries(entries: Iterable<unknown[]>): HeaderPairs {
  const pairs: HeaderPairs = [];
  for (const [name, value] of entries)
    if (value !== undefined && value !== null) pairs.push(pair(name, value));
  return pairs;
}

function pair(name: unknown, value: unknown): [string, HeaderValue] {
  return [String(name), Array.isArray(value) ? value.map(String) : String(value)];
}

function append(out: Record<string, HeaderValue>, name: string, value: HeaderValue): void {
  const existing = out[name];
  if (existing === undefined) out[name] = value;
  else out[name] = [...toArray(existing), ...toArray(value)];
}

function toArray(value: HeaderValue): string[] {
  return Array.isArray(value) ? value : [value];
}
