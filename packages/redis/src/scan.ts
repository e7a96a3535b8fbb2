import { effectiveStatus, expiredUndecided, type IdempotencyRecord, type ListFilter } from '@oncely/core';
import { bounded, type RedisClient, runScript } from './client.js';
import { clusterIndexPattern, keysFor, recordPattern, storeKeyOf, sweepPatterns } from './keys.js';
import { parseReply, unpackRecord } from './record.js';
import { args, type ScriptCall, SWEEP_GONE, SWEEP_RECORD } from './scripts.js';

interface ScanNode {
  scanStream(options: { match: string; count: number }): AsyncIterable<string[]>;
}

const SCAN_COUNT = 500;

/** Every master: SCAN only sees the keys of the node it runs on. */
function scanNodes(client: RedisClient): ScanNode[] {
  if (!client.isCluster) return [client as unknown as ScanNode];
  return (client as unknown as { nodes(role: string): ScanNode[] }).nodes('master');
}

async function* scanKeys(client: RedisClient, match: string): AsyncIterable<string> {
  for (const node of scanNodes(client)) {
    for await (const batch of node.scanStream({ match, count: SCAN_COUNT })) yield* batch;
  }
}

/** Records matching the filter; `unknown` includes `in_flight` records whose lease expired (by Redis' clock). */
export async function* scanRecords(
  client: RedisClient,
  prefix: string,
  filter: ListFilter,
  read: (key: string) => Promise<{ record: IdempotencyRecord | undefined; now: number }>,
): AsyncIterable<IdempotencyRecord> {
  const seen = new Set<string>(); // SCAN may return a key twice
  for await (const redisKey of scanKeys(client, recordPattern(prefix, filter.namespace))) {
    const key = storeKeyOf(prefix, redisKey);
    if (key === undefined || seen.has(key)) continue;
    seen.add(key);
    const { record, now } = await read(key);
    if (!record) continue;
    if (filter.status && effectiveStatus(record, now) !== filter.status) continue;
    if (filter.createdBefore !== undefined && record.createdAt >= filter.createdBefore) continue;
    yield record;
  }
}

/** Index members looked at per index per sweep. */
const SWEEP_BATCH = 10_000;

/** Reports (once) each undecided record that expired; returns how many were reported. */
export async function sweepExpired(
  client: RedisClient,
  prefix: string,
  timeoutMs: number,
  report: (record: IdempotencyRecord) => void,
): Promise<number> {
  const found = { index: [] as string[], gone: [] as string[] };
  const patterns = sweepPatterns(prefix);
  await bounded(client, { operation: 'purgeExpired', key: prefix, timeoutMs: timeoutMs * 10 }, async () => {
    if (client.isCluster) {
      for await (const name of scanKeys(client, clusterIndexPattern(prefix))) found.index.push(name);
    } else found.index.push(keysFor(prefix, '').index);
    for await (const name of scanKeys(client, patterns.gone)) found.gone.push(name);
  });
  // Each record is reported as soon as its script handed it back (and deleted it): a later call
  // failing must not lose the reports of those already taken out of Redis.
  let reported = 0;
  const handedBack = (record: IdempotencyRecord) => {
    // An in_flight record whose lease outlived it expired as in_flight, not as undecided.
    if (!expiredUndecided(record)) return;
    reported++;
    report(record);
  };
  const sweep = async (call: ScriptCall, key: string) =>
    parseReply(await runScript(client, call, { operation: 'purgeExpired', key, timeoutMs }));
  for (const index of new Set(found.index)) {
    // Candidates by the local clock; the script judges each by Redis' own.
    const members = (await bounded(client, { operation: 'purgeExpired', key: index, timeoutMs }, () =>
      client.call('ZRANGEBYSCORE', index, '-inf', String(Date.now()), 'LIMIT', 0, SWEEP_BATCH),
    )) as string[];
    for (const record of members) {
      const key = storeKeyOf(prefix, record);
      if (key === undefined) continue;
      const reply = await sweep(args(SWEEP_RECORD, { index, record }, {}), key);
      if (reply.outcome === 'expired' && reply.rest[0]) handedBack(unpackRecord(reply.rest[0]));
    }
  }
  for (const gone of new Set(found.gone)) {
    const key = storeKeyOf(prefix, gone);
    if (key === undefined) continue;
    const reply = await sweep(args(SWEEP_GONE, { gone }, {}), key);
    for (const entry of reply.rest) handedBack(unpackRecord(entry));
  }
  return reported;
}
