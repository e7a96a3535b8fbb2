import { ConfigError } from '@oncely/core';

/** The Redis keys and pub/sub channel of one store key. All share one hash tag, so one Cluster slot. */
export interface KeySet {
  /** The record: one string (scripts.ts). */
  record: string;
  /** Expired undecided records set aside when the key was granted again before a sweep reported them. */
  gone: string;
  /** The Redlock lease lock (Redlock mode only); never the record key, which Redlock would refuse. */
  lock: string;
  /** Published to when the record leaves `in_flight` (if someone waits on it). */
  channel: string;
  /** The store epoch the record's grants are checked against (see `epochKey`). */
  epoch: string;
  /** The undecided index the record is listed in while it is in_flight or unknown (see `indexKey`). */
  index: string;
}

const SUFFIXES = {
  record: 'rec',
  gone: 'gone',
  lock: 'lock',
  channel: 'done',
  epoch: 'epoch',
  index: 'undecided',
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

export function keysFor(prefix: string, storeKey: string, cluster = false): KeySet {
  const tag = escapeTag(storeKey);
  const base = `${prefix}{${tag}}:`;
  return {
    record: base + SUFFIXES.record,
    gone: base + SUFFIXES.gone,
    lock: base + SUFFIXES.lock,
    channel: base + SUFFIXES.channel,
    epoch: perSlot(prefix, tag, cluster, SUFFIXES.epoch),
    index: perSlot(prefix, tag, cluster, SUFFIXES.index),
  };
}

/** Published to when an operator or an override changes a completed record (other processes drop their copy). */
export function changedChannel(prefix: string): string {
  return `${prefix}changed`;
}

/**
 * A key kept per prefix rather than per record: the store epoch (epoch.ts) and the undecided
 * index. Standalone: one key per prefix. Cluster: a script may only touch keys of one slot, so
 * there is one per slot, named with a short hash tag that hashes to the record's slot
 * (`<prefix>{<tag>}:epoch`): a master that loses its data loses the epoch keys of exactly the
 * slots it lost.
 */
function perSlot(prefix: string, tag: string, cluster: boolean, suffix: string): string {
  if (!cluster) return prefix + suffix;
  return `${prefix}{${tagForSlot(hashSlot(tag))}}:${suffix}`;
}

/** The store epoch a record key is checked against (see `perSlot`). */
export function epochKey(prefix: string, storeKey: string, cluster: boolean): string {
  return perSlot(prefix, escapeTag(storeKey), cluster, SUFFIXES.epoch);
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

/** SCAN pattern of the set-aside lists. */
export function sweepPatterns(prefix: string): { gone: string } {
  return { gone: `${globEscape(prefix)}{*}:${SUFFIXES.gone}` };
}

/** Cluster: the per-slot undecided indexes. */
export function clusterIndexPattern(prefix: string): string {
  return `${globEscape(prefix)}{*}:${SUFFIXES.index}`;
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
