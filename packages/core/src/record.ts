import type { IdempotencyRecord, RecordStatus } from './types.js';

/*
 * What a stored record's fields mean, in one place. Every reader of a record — the conflict table,
 * the memory store, the Redis store's scan and sweep, the CLI — asks these functions; the Lua
 * scripts of @oncely/redis mirror `leaseLive`/`isTakeable` in one documented helper (`LEASE_RULES`
 * in packages/redis/src/scripts.ts). `now` is always the store's clock, never the caller's.
 */

/** The lease is held: the record is `in_flight` and its lease ends after `now`. */
export function leaseLive(record: Pick<IdempotencyRecord, 'status' | 'leaseUntil'>, now: number): boolean {
  return record.status === 'in_flight' && (record.leaseUntil ?? 0) > now;
}

/**
 * The status a record has for its readers: an `in_flight` record whose lease expired is `unknown`
 * (its owner stopped before recording an outcome; the request may or may not have been sent).
 */
export function effectiveStatus(
  record: Pick<IdempotencyRecord, 'status' | 'leaseUntil'>,
  now = Date.now(),
): RecordStatus {
  return record.status === 'in_flight' && !leaseLive(record, now) ? 'unknown' : record.status;
}

/** A takeover may win this record: no live lease stands in its way (completed and unknown ones, expired leases). */
export function isTakeable(record: Pick<IdempotencyRecord, 'status' | 'leaseUntil'>, now: number): boolean {
  return !leaseLive(record, now);
}

/** The lease had expired when the record itself did: it expired undecided, not while its owner worked. */
export function expiredUndecided(
  record: Pick<IdempotencyRecord, 'status' | 'leaseUntil' | 'expiresAt'>,
): boolean {
  return effectiveStatus(record, record.expiresAt) === 'unknown';
}
