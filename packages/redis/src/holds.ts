import type { IdempotencyRecord } from '@oncely/core';
import type { LeaseLock } from './lease.js';

/** What this store instance knows about a lease it granted: the owner (checked with the token) and its lock. */
export interface Hold {
  owner: string;
  lock: LeaseLock | undefined;
  /** Set once the Redlock lock could not be kept: the record may no longer be written. */
  lost: boolean;
  /** After this (local clock) the entry is stale and may be dropped. */
  staleAfter: number;
  /** The record as granted, the base of the completed one (complete replies without it). */
  record: IdempotencyRecord;
  /** Redis' clock in the grant's reply, and when (`performance.now()`) that reply arrived. */
  redisNow: number;
  answeredAt: number;
}

/** Leases granted through this store, so a later write can be checked against owner and lock. */
export class Holds {
  private readonly entries = new Map<string, Hold>();

  set(key: string, token: number, hold: Hold): void {
    if (this.entries.size >= 1_000) this.prune();
    this.entries.set(id(key, token), hold);
  }

  get(key: string, token: number): Hold | undefined {
    return this.entries.get(id(key, token));
  }

  take(key: string, token: number): Hold | undefined {
    const hold = this.entries.get(id(key, token));
    this.entries.delete(id(key, token));
    return hold;
  }

  /** Drops entries of operations that never settled (their records have expired). */
  private prune(): void {
    const now = Date.now();
    for (const [entry, hold] of this.entries) if (hold.staleAfter <= now) this.entries.delete(entry);
  }
}

function id(key: string, token: number): string {
  return `${key}\n${token}`;
}
