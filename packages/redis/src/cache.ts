import type { IdempotencyRecord } from '@oncely/core';

/**
 * Completed records this process has seen, so a replay of one costs no round trip. A completed
 * record is immutable until it expires or an operator (or an override) changes it; the store
 * drops a copy when this process changes the record, and when another process says so on the
 * changed channel (keys.ts `changedChannel`). Copies are only taken while that subscription is
 * live: one taken before could miss a change. Expiry is judged on the local monotonic clock,
 * counted from when the read was *asked* (the latest Redis could have read it), so a copy never
 * outlives the record. A least-recently-used copy goes first past `maxRecords`.
 */
export class CompletedCache {
  private readonly entries = new Map<string, { record: IdempotencyRecord; until: number; offset: number }>();
  private live = false;
  /**
   * Moves on every drop and every loss of the subscription. A read that was on its way meanwhile
   * may carry the record as it was before the change: its copy is not kept (`put` with the stamp
   * taken before the read).
   */
  stamp = 0;

  constructor(private readonly maxRecords: number) {}

  get enabled(): boolean {
    return this.maxRecords > 0;
  }

  /** The subscription to the changed channel is live (or was lost: every copy goes). */
  setLive(live: boolean): void {
    this.live = live;
    this.stamp++;
    if (!live) this.entries.clear();
  }

  /**
   * Keeps a copy of a completed record read at Redis time `now`, asked at `askedAt`
   * (`performance.now()`) when the stamp was `stamp`.
   */
  put(record: IdempotencyRecord, now: number, askedAt: number, stamp: number): void {
    if (!this.live || stamp !== this.stamp || record.status !== 'completed' || this.maxRecords <= 0) return;
    const until = askedAt + (record.expiresAt - now);
    if (until <= performance.now()) return;
    this.entries.delete(record.key);
    this.entries.set(record.key, { record, until, offset: now - askedAt });
    if (this.entries.size > this.maxRecords) this.entries.delete(this.entries.keys().next().value!);
  }

  /** The copy for `key` if it is still valid, as a record observed now (by the estimated Redis clock). */
  get(key: string): IdempotencyRecord | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    const at = performance.now();
    if (at >= entry.until) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return { ...entry.record, observedAt: Math.floor(at + entry.offset) };
  }

  drop(key: string): void {
    this.stamp++;
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
