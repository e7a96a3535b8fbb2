import { ConfigError, StoreUnavailableError } from '@oncely/core';
import type { PersistenceReport } from './durability.js';

/**
 * `requireDurable`: the Redis cannot keep records across a restart, so a reservation would not
 * outlive one. Raised by reserve/takeOver before anything is written. Nothing was sent.
 */
export class StoreNotDurableError extends ConfigError {
  readonly report: PersistenceReport;
  constructor(report: PersistenceReport) {
    super(
      `The Redis store is not durable (${report.detail}): a restart would forget every reservation, and a re-run would write again. ` +
        'Nothing was sent. Enable AOF (`appendonly yes`, with `appendfsync everysec` or `always`) or RDB snapshots (`save "<seconds> <changes>"`) ' +
        'on every master, or drop requireDurable to run without that guarantee.',
    );
    this.report = report;
  }
}

/**
 * The store lost records (its epoch changed: flushed, restarted without persistence, rolled back to
 * an older snapshot, failed over to a replica that lagged) and refuses grants for the reset window,
 * while writes reserved before the loss may still be running. Nothing was sent. A `StoreUnavailableError`
 * (code `ONCELY_STORE_UNAVAILABLE`): retry after `retryAfterMs`.
 */
export class StoreResetError extends StoreUnavailableError {
  /** Redis time (ms) until which grants are refused. */
  readonly refuseUntil: number;
  /** Redis time (ms) until which keys the store no longer has are treated as `unknown`. */
  readonly unknownUntil: number;
  /** How long from now (by Redis' clock) the refusal lasts. */
  readonly retryAfterMs: number;
  constructor(
    operation: string,
    key: string,
    why: string,
    now: number,
    refuseUntil: number,
    unknownUntil: number,
  ) {
    super(operation, new Error(`the store lost its records (epoch changed: ${why})`), key);
    this.refuseUntil = refuseUntil;
    this.unknownUntil = unknownUntil;
    this.retryAfterMs = Math.max(0, refuseUntil - now);
    this.message =
      `The idempotency store lost its records (epoch changed: ${why}); nothing was sent. ` +
      `Reservations are refused for ${this.retryAfterMs} ms more (until ${iso(refuseUntil)}, Redis' clock), while writes reserved ` +
      `before the loss may still be running; after that, keys the store no longer has are treated as unknown until ${iso(unknownUntil)} ` +
      '(reconciled or refused, never sent blindly). Retry later, and give the Redis persistence (appendonly yes) so a restart keeps its records.';
  }
}

/**
 * `durability`: the grant was not confirmed (WAIT / WAITAOF) within its timeout. The reservation
 * was given back; nothing was sent. A `StoreUnavailableError`: retry.
 */
export class ReservationNotConfirmedError extends StoreUnavailableError {
  constructor(operation: string, key: string, detail: string) {
    super(operation, new Error(detail), key);
    this.message = `The reservation was not confirmed durable (${detail}); it was given back and nothing was sent. Retry, and check the replicas / AOF of the Redis master.`;
  }
}

function iso(ms: number): string {
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : String(ms);
}
