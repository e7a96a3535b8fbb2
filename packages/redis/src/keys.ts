import { ConfigError } from '@oncely/core';

/** The Redis keys and pub/sub channel of one store key. All share one hash tag, so one Cluster slot. */
export interface KeySet {
  /** The record: a hash. */
  record: string;
  /** The fencing-token sequence: outlives a released record so a token is never handed out twice. */
  sequence: string;
  /** A small copy of an `in_flight`/`unknown` record, kept past its expiry to report it as expired-unknown. */
  marker: string;
  /** Markers of expired records set aside when the key was reserved again before a sweep reported them. */
  gone: string;
  /** The Redlock lease lock (Redlock mode only); never the record key, which Redlock would refuse. */
  lock: string;
  /** Published to when the record leaves `in_flight`. */
  channel: string;
}

const SUFFIXES = {
  record: 'rec',
  sequence: 'seq',
  marker: 'unk',
  gone: 'gone',
  lock: 'lock',
  channel: 'done',
} as const;

/** Braces would move the hash tag; `%` is escaped so the encoding stays reversible. */
const TAG_ESCAPES: Record<string, string> = { '%': '%25', '{': '%7B', '}': '%7D' };
const TAG_UNESCAPES: Record<string, string> = { '%25': '%', '%7B': '{', '%7D': '}' };

export function checkKeyPrefix(prefix: string): string {
  if (typeof prefix !== 'string') throw new ConfigError('keyPrefix must be a string');
  if (/[{}]/.test(prefix)) {
    throw new ConfigError(
      `keyPrefix '${prefix}' must not contain '{' or '}': Redis Cluster would hash the prefix instead of the key`,
    );
  }
  return prefix;
}

export function keysFor(prefix: string, storeKey: string): KeySet {
  const base = `${prefix}{${escapeTag(storeKey)}}:`;
  return {
    record: base + SUFFIXES.record,
    sequence: base + SUFFIXES.sequence,
    marker: base + SUFFIXES.marker,
    gone: base + SUFFIXES.gone,
    lock: base + SUFFIXES.lock,
    channel: base + SUFFIXES.channel,
  };
}

/**
 * The store epoch a record key is checked against (see epoch.ts). Standalone: one key per prefix.
 * Cluster: a script may only touch keys of one slot, so there is one epoch key per slot, named
 * with a short hash tag that hashes to the record's slot (`<prefix>{<tag>}:epoch`): a master that
 * loses its data loses the epoch keys of exactly the slots it lost.
 */
export function epochKey(prefix: string, storeKey: string, cluster: boolean): string {
  if (!cluster) return `${prefix}epoch`;
  return `${prefix}{${tagForSlot(hashSlot(escapeTag(storeKey)))}}:epoch`;
}

function escapeTag(storeKey: string): string {
  return storeKey.replace(/[%{}]/g, (c) => TAG_ESCAPES[c]!);
}

/** Redis Cluster's hash slot of a hash tag: CRC16 (XMODEM) of its bytes, mod 16384. */
export function hashSlot(tag: string): number {
  let crc = 0;
  for (const byte of Buffer.from(tag, 'utf8')) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc & 16383;
}

/** The first base-36 number hashing to each slot, found as slots are needed (all 16384: ~90k CRCs). */
const slotTags: string[] = new Array(16384);
let nextTag = 0;
function tagForSlot(slot: number): string {
  while (slotTags[slot] === undefined) {
    const tag = (nextTag++).toString(36);
    slotTags[hashSlot(tag)] ??= tag;
  }
  return slotTags[slot]!;
}

/** SCAN pattern matching every record key under the prefix (optionally one namespace). */
export function recordPattern(prefix: string, namespace?: string): string {
  const tagStart = namespace === undefined ? '' : `${namespace.replace(/[%{}]/g, (c) => TAG_ESCAPES[c]!)}:`;
  return `${globEscape(prefix)}{${globEscape(tagStart)}*}:${SUFFIXES.record}`;
}

/** SCAN patterns matching every expired-unknown marker (current, and set aside) under the prefix. */
export function markerPatterns(prefix: string): { marker: string; gone: string } {
  return {
    marker: `${globEscape(prefix)}{*}:${SUFFIXES.marker}`,
    gone: `${globEscape(prefix)}{*}:${SUFFIXES.gone}`,
  };
}

/** The store key a record or marker key belongs to, or `undefined` for a foreign key. */
export function storeKeyOf(prefix: string, redisKey: string): string | undefined {
  if (!redisKey.startsWith(`${prefix}{`)) return undefined;
  const end = redisKey.lastIndexOf('}:');
  if (end < prefix.length + 1) return undefined;
  return redisKey.slice(prefix.length + 1, end).replace(/%25|%7B|%7D/g, (c) => TAG_UNESCAPES[c]!);
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
