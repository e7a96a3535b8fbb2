import { leaseLive } from './record.js';
import type { IdempotencyRecord } from './types.js';

/** What the engine does when `reserve` finds an existing record. */
export type ConflictAction =
  /** Return the stored response; nothing is sent. */
  | 'replay'
  /** Wait (bounded) for the owner, then look again. */
  | 'wait'
  /** The outcome of an earlier attempt is not known: native re-send, reconcile hook, or `UnknownOutcomeError`. */
  | 'recover'
  /** `PayloadMismatchError`; nothing is sent. */
  | 'reject'
  /** `PayloadMismatchError` unless the caller gives a reviewed override (or an operator granted one). */
  | 'reject-unless-override';

export type RecordState = 'in_flight_live' | 'in_flight_expired' | 'completed' | 'unknown';

/** The conflict table of docs/DESIGN.md, as data. */
export const CONFLICT_TABLE: Record<RecordState, { same: ConflictAction; different: ConflictAction }> = {
  in_flight_live: { same: 'wait', different: 'reject' },
  in_flight_expired: { same: 'recover', different: 'reject' },
  completed: { same: 'replay', different: 'reject-unless-override' },
  unknown: { same: 'recover', different: 'reject-unless-override' },
};

export function recordState(record: IdempotencyRecord, now: number): RecordState {
  if (record.status !== 'in_flight') return record.status;
  return leaseLive(record, now) ? 'in_flight_live' : 'in_flight_expired';
}

export function conflictAction(record: IdempotencyRecord, fingerprint: string, now: number): ConflictAction {
  const row = CONFLICT_TABLE[recordState(record, now)];
  return record.fingerprint === fingerprint ? row.same : row.different;
}
