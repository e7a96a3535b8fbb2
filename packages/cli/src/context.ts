import type { IdempotencyStore } from '@oncely/core';

/** Where a command writes: `process.stdout`/`process.stderr` in the bin, string collectors in tests. */
export interface Output {
  write(chunk: string): unknown;
}

/** What every command runs against. */
export interface CommandContext {
  store: IdempotencyStore;
  /** Results: tables, JSON, confirmations. */
  stdout: Output;
  /** Progress, notes and errors. */
  stderr: Output;
  /** The store's clock in ms (Redis' clock in the bin): decides whether a lease has expired. */
  now: () => number;
}
