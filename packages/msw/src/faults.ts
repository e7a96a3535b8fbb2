import { delay } from 'msw';

/**
 * Probabilities (0 = never, 1 = always) drawn from the emulator's `random`, so a seeded or scripted
 * `random` makes a run reproducible.
 */
export interface FaultRates {
  /** The write is committed (and saved for its key), then the response is lost (`HttpResponse.error()`). */
  dropAfterCommit?: number | undefined;
  /** The write is committed, then `500` is answered (a native key keeps the success for its replay). */
  error5xxAfterCommit?: number | undefined;
  /** `503` before anything is recorded: not a write, the key stays free. */
  error5xxBeforeCommit?: number | undefined;
  /** Every write waits this long before committing (the key stays in flight meanwhile). */
  latencyMs?: number | undefined;
}

/** Counted faults: the next `n` matching requests get the fault, whatever `random` says. */
export interface FaultCounts {
  dropAfterCommit?: number | undefined;
  error5xxAfterCommit?: number | undefined;
  error5xxBeforeCommit?: number | undefined;
}

export type FaultKind = keyof FaultCounts;

export interface FaultPlan {
  /** Whether this request gets the fault: a pending count first, then the rate. */
  take(kind: FaultKind): boolean;
  /** Waits the configured latency (real time). */
  latency(): Promise<void>;
  inject(counts: FaultCounts): void;
  reset(): void;
}

const KINDS: readonly FaultKind[] = ['dropAfterCommit', 'error5xxAfterCommit', 'error5xxBeforeCommit'];

export function faultPlan(rates: FaultRates = {}, random: () => number = Math.random): FaultPlan {
  for (const kind of KINDS) {
    const rate = rates[kind];
    if (rate !== undefined && !(rate >= 0 && rate <= 1)) {
      throw new RangeError(`faults.${kind} is a probability between 0 and 1, got ${rate}`);
    }
  }
  let pending: Record<FaultKind, number> = zero();
  return {
    take(kind) {
      if (pending[kind] > 0) {
        pending[kind]--;
        return true;
      }
      const rate = rates[kind] ?? 0;
      return rate > 0 && random() < rate;
    },
    async latency() {
      if (rates.latencyMs) await delay(rates.latencyMs);
    },
    inject(counts) {
      for (const kind of KINDS) pending[kind] += counts[kind] ?? 0;
    },
    reset() {
      pending = zero();
    },
  };
}

function zero(): Record<FaultKind, number> {
  return { dropAfterCommit: 0, error5xxAfterCommit: 0, error5xxBeforeCommit: 0 };
}
