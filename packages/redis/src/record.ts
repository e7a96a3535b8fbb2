import type { AuditEntry, IdempotencyRecord, RecordStatus, StoredResponse } from '@oncely/core';

/** A script reply: `[outcome, serverNow, ...rest]`, strings only. */
export interface Reply {
  outcome: string;
  /** Redis' clock (ms) when the script ran. */
  now: number;
  rest: string[];
}

export function parseReply(raw: unknown): Reply {
  if (!Array.isArray(raw) || raw.length < 2) throw new Error(`unexpected script reply: ${String(raw)}`);
  const strings = raw.map((item) => (Buffer.isBuffer(item) ? item.toString('utf8') : String(item)));
  return { outcome: strings[0]!, now: Number(strings[1]), rest: strings.slice(2) };
}

const NUMBER_FIELDS = [
  'createdAt',
  'updatedAt',
  'expiresAt',
  'fencingToken',
  'attempts',
  'revision',
] as const;
const STRING_FIELDS = ['key', 'scope', 'fingerprint', 'method', 'target'] as const;

/** The record of a reply (fields after outcome and clock), stamped with the clock Redis read it at. */
export function recordOf(reply: Reply, response?: StoredResponse): IdempotencyRecord {
  const record = recordFrom(reply.rest, response);
  record.observedAt = reply.now;
  return record;
}

/** Rebuilds a record from the flat `field, value, …` list of its hash. */
export function recordFrom(fields: string[], response?: StoredResponse): IdempotencyRecord {
  const hash = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) hash.set(fields[i]!, fields[i + 1]!);
  const text = (name: string) => hash.get(name) ?? '';
  const record = {
    status: text('status') as RecordStatus,
    leaseOwner: text('leaseOwner') || null,
    leaseUntil: text('leaseUntil') === '' ? null : Number(text('leaseUntil')),
    providerKey: hash.get('providerKey'),
    response: hash.has('response') ? (JSON.parse(text('response')) as StoredResponse) : response,
    overrideGrant: hash.has('overrideGrant') ? JSON.parse(text('overrideGrant')) : undefined,
    audit: JSON.parse(hash.get('audit') ?? '[]') as AuditEntry[],
  } as IdempotencyRecord;
  for (const name of STRING_FIELDS) record[name] = text(name);
  for (const name of NUMBER_FIELDS) record[name] = Number(text(name));
  if (record.response === undefined) delete record.response;
  if (record.providerKey === undefined) delete record.providerKey;
  if (record.overrideGrant === undefined) delete record.overrideGrant;
  return record;
}

/** An audit entry for a script to append; `token` is left for the script when it mints a new one. */
export function auditJson(entry: AuditEntry | undefined, withoutToken = false): string {
  if (!entry) return '';
  const { token, ...rest } = entry;
  return JSON.stringify(withoutToken || token === undefined ? rest : { ...rest, token });
}
