import type { AuditEntry, IdempotencyRecord, RecordStatus, ReserveInput, StoredResponse } from '@oncely/core';

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

/** The record a reply carries (its first field after outcome and clock), stamped with the clock Redis read it at. */
export function recordOf(reply: Reply): IdempotencyRecord {
  const record = unpackRecord(reply.rest[0] ?? '');
  record.observedAt = reply.now;
  return record;
}

/**
 * The record's value as the scripts store it (the layout is documented on top of scripts.ts).
 * Only the store writes it; reserve sends its identity line and provider key, the scripts the rest.
 */
export function identityLine(
  input: Pick<ReserveInput, 'key' | 'scope' | 'fingerprint' | 'method' | 'target'>,
): string {
  return JSON.stringify([input.key, input.scope, input.fingerprint, input.method, input.target]);
}

/** A provider key as the record keeps it: a JSON string, or '' for none. */
export function providerKeyField(providerKey: string | undefined): string {
  return providerKey === undefined || providerKey === '' ? '' : JSON.stringify(providerKey);
}

/** Rebuilds a record from its stored value. */
export function unpackRecord(value: string): IdempotencyRecord {
  const ends: number[] = [];
  for (let at = value.indexOf('\n'); at !== -1 && ends.length < 5; at = value.indexOf('\n', at + 1))
    ends.push(at);
  if (ends.length < 5) throw new Error(`unexpected record value: ${value.slice(0, 80)}`);
  const [e1, e2, e3, e4, e5] = ends as [number, number, number, number, number];
  const head = value.slice(0, e1).split('|');
  // The owner is last on the line and may hold '|' itself.
  const [status, token, leaseUntil, expiresAt, createdAt, updatedAt, attempts, revision] = head;
  const owner = head.slice(9).join('|');
  const [key, scope, fingerprint, method, target] = JSON.parse(value.slice(e1 + 1, e2)) as string[];
  const providerKey = value.slice(e2 + 1, e3);
  const grant = value.slice(e3 + 1, e4);
  const response = value.slice(e5 + 1);
  const record: IdempotencyRecord = {
    key: key!,
    scope: scope!,
    status: status as RecordStatus,
    fingerprint: fingerprint!,
    method: method!,
    target: target!,
    createdAt: Number(createdAt),
    updatedAt: Number(updatedAt),
    expiresAt: Number(expiresAt),
    leaseOwner: owner === '' ? null : owner,
    leaseUntil: leaseUntil === '' ? null : Number(leaseUntil),
    fencingToken: Number(token),
    attempts: Number(attempts),
    revision: Number(revision),
    audit: JSON.parse(value.slice(e4 + 1, e5)) as AuditEntry[],
  };
  if (providerKey !== '') record.providerKey = JSON.parse(providerKey) as string;
  if (grant !== '') record.overrideGrant = JSON.parse(grant);
  if (response !== '') record.response = JSON.parse(response) as StoredResponse;
  return record;
}

/** An audit entry for a script to append; `token` is left for the script when it mints a new one. */
export function auditJson(entry: AuditEntry | undefined, withoutToken = false): string {
  if (!entry) return '';
  const { token, ...rest } = entry;
  return JSON.stringify(withoutToken || token === undefined ? rest : { ...rest, token });
}

/** The stored value of a record: what the scripts' `pack` writes (tests edit records with it). */
export function packRecord(record: IdempotencyRecord, waiters = false): string {
  const head = [
    record.status,
    record.fencingToken,
    record.leaseUntil ?? '',
    record.expiresAt,
    record.createdAt,
    record.updatedAt,
    record.attempts,
    record.revision,
    waiters ? 1 : 0,
    record.leaseOwner ?? '',
  ].join('|');
  return [
    head,
    identityLine(record),
    providerKeyField(record.providerKey),
    record.overrideGrant ? JSON.stringify(record.overrideGrant) : '',
    JSON.stringify(record.audit),
    record.response ? JSON.stringify(record.response) : '',
  ].join('\n');
}
