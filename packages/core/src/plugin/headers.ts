import type { PreparedRequest } from '../types.js';

/** What a plugin changes on the caller's headers for one attempt (lower-case names). */
export interface HeaderEdits {
  /** Added, or replacing a header of the same name in any case. */
  readonly set: Readonly<Record<string, string>>;
  /** Removed, in any case. */
  readonly drop: readonly string[];
}

/** Headers that describe a body core replaced: the client computes them anew when absent. */
const BODY_HEADERS: readonly string[] = ['content-length'];

/** The header changes one attempt needs: core's provider headers, minus those a replaced body makes wrong. */
export function headerEdits(prepared: PreparedRequest): HeaderEdits {
  return { set: prepared.setHeaders, drop: prepared.body === undefined ? [] : BODY_HEADERS };
}

/** Header pairs in the caller's order and spelling with the edits applied; set headers come last. */
export function editHeaderPairs<V>(
  pairs: Iterable<readonly [string, V]>,
  edits: HeaderEdits,
): Array<[string, V | string]> {
  const kept: Array<[string, V | string]> = [];
  for (const [name, value] of pairs) {
    const lower = name.toLowerCase();
    if (!edits.drop.includes(lower) && !Object.hasOwn(edits.set, lower)) kept.push([name, value]);
  }
  return [...kept, ...Object.entries(edits.set)];
}

/** The edits applied to a mutable headers object (axios' `AxiosHeaders`, a fetch `Headers`). */
export function applyHeaderEdits(
  headers: { set(name: string, value: string): unknown; delete(name: string): unknown },
  edits: HeaderEdits,
): void {
  for (const name of edits.drop) headers.delete(name);
  for (const [name, value] of Object.entries(edits.set)) headers.set(name, value);
}
