import type { HttpHandler } from 'msw';
import type { FaultCounts } from './faults.js';
import type { EmulatorStats } from './stats.js';

/** A committed write: the resource as created. */
export interface Written {
  path: string;
  key: string | undefined;
  resource: Record<string, unknown>;
}

export interface Emulator {
  handlers: HttpHandler[];
  stats(): EmulatorStats;
  /** Committed writes, in order. */
  written(): Written[];
  /** Counted faults for the next requests (deterministic, unlike the rates). */
  inject(counts: FaultCounts): void;
  /** Forgets writes, keys, stats and injected faults. */
  reset(): void;
}
