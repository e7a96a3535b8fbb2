import type { HttpHandler } from 'msw';
import type { Injection } from './faults.js';
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
  /**
   * Counted faults for the next matching writes (deterministic, unlike the rates), optionally
   * scoped to a path prefix or a predicate, with a latency for the writes in scope.
   */
  inject(injection: Injection): void;
  /** Forgets writes, keys, stats and injected faults. */
  reset(): void;
}
