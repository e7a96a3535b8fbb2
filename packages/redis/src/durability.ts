import { StoreUnavailableError } from '@oncely/core';
import { bounded, type RedisClient } from './client.js';

/** What Redis keeps across a restart, as read from `INFO` (and `CONFIG GET` where allowed) on every master. */
export interface PersistenceReport {
  /** Records survive a restart: AOF or RDB snapshots on every master, and no eviction. */
  durable: boolean;
  /** AOF on (`appendonly yes`) on every master. */
  aof: boolean;
  /** RDB snapshots configured (`save` not empty) on every master; when `CONFIG` is refused, inferred from snapshots taken since start. */
  rdb: boolean;
  /** Keys (records) may be evicted under memory pressure: `maxmemory` set with a policy other than `noeviction`. */
  evicts: boolean;
  /** Lowest `redis_version` among the masters. */
  version: string;
  /** One line per master that is not durable (or all is well), for logs and errors. */
  detail: string;
}

interface NodeReport {
  aof: boolean;
  rdb: boolean;
  rdbKnown: boolean;
  evicts: boolean;
  version: string;
  detail: string;
}

/** Reads the persistence settings of every master (Cluster: each one; they may differ). */
export async function inspectPersistence(client: RedisClient, timeoutMs: number): Promise<PersistenceReport> {
  const nodes = await masters(client, timeoutMs);
  const reports = await Promise.all(nodes.map((node) => inspectNode(node, timeoutMs)));
  const durable = (r: NodeReport) => (r.aof || r.rdb) && !r.evicts;
  const bad = reports.filter((r) => !durable(r));
  const version = reports.map((r) => r.version).sort(compareVersions)[0] ?? '0';
  return {
    durable: bad.length === 0,
    aof: reports.every((r) => r.aof),
    rdb: reports.every((r) => r.rdb),
    evicts: reports.some((r) => r.evicts),
    version,
    detail: (bad.length > 0 ? bad : reports).map((r) => r.detail).join('; '),
  };
}

async function masters(client: RedisClient, timeoutMs: number): Promise<RedisClient[]> {
  if (!client.isCluster || !client.nodes) return [client];
  if (client.status !== 'ready') {
    await bounded(client, { operation: 'persistence', key: '', timeoutMs }, () => client.call('PING'));
  }
  const nodes = client.nodes('master');
  if (nodes.length === 0) {
    throw new StoreUnavailableError('persistence', new Error('no Redis Cluster master known yet'));
  }
  return nodes;
}

async function inspectNode(node: RedisClient, timeoutMs: number): Promise<NodeReport> {
  const options = { operation: 'persistence', key: '', timeoutMs };
  const [infoText, save] = await Promise.all([
    bounded(node, options, () => node.call('INFO', 'server', 'persistence', 'memory')),
    // CONFIG may be renamed away or denied by ACL (managed services): then RDB is judged from INFO.
    bounded(node, options, () => node.call('CONFIG', 'GET', 'save', 'appendfsync')).then(
      (reply) => ({ config: pairs(reply), error: undefined }),
      (error: unknown) => ({ config: undefined, error }),
    ),
  ]);
  const info = parseInfo(String(infoText));
  const version = info.get('redis_version') ?? '0';
  const where = `redis ${version} on port ${info.get('tcp_port') ?? '?'}`;
  const aof = info.get('aof_enabled') === '1';
  const saveSetting = save.config?.get('save');
  const rdbKnown = saveSetting !== undefined;
  const rdb = rdbKnown
    ? saveSetting.trim() !== ''
    : Number(info.get('rdb_saves') ?? 0) > 0 || info.get('rdb_bgsave_in_progress') === '1';
  const policy = info.get('maxmemory_policy') ?? 'noeviction';
  const evicts = Number(info.get('maxmemory') ?? 0) > 0 && policy !== 'noeviction';
  const parts: string[] = [];
  const fsync = save.config?.get('appendfsync');
  parts.push(aof ? `AOF on${fsync ? ` (appendfsync ${fsync})` : ''}` : 'no AOF (appendonly no)');
  if (rdbKnown) parts.push(rdb ? `RDB snapshots (save "${saveSetting}")` : 'no RDB snapshots (save "")');
  else
    parts.push(
      `RDB snapshots ${rdb ? 'taken since start' : 'not confirmed'} (CONFIG GET refused: ${describe(save.error)}; ` +
        `rdb_saves=${info.get('rdb_saves') ?? '?'}, rdb_changes_since_last_save=${info.get('rdb_changes_since_last_save') ?? '?'})`,
    );
  if (evicts) parts.push(`maxmemory-policy ${policy} with maxmemory set: records can be evicted`);
  return { aof, rdb, rdbKnown, evicts, version, detail: `${where}: ${parts.join(', ')}` };
}

/** `CONFIG GET a b` answers `[name, value, name, value, …]` (RESP2) or a map (RESP3). */
function pairs(reply: unknown): Map<string, string> | undefined {
  if (reply instanceof Map) return new Map([...reply].map(([k, v]) => [String(k), String(v)]));
  if (!Array.isArray(reply)) return undefined;
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < reply.length; i += 2) map.set(String(reply[i]), String(reply[i + 1]));
  return map;
}

export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  return fields;
}

/** Numeric comparison of dotted versions: `7.0.15` < `7.2.0`. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function describe(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}
