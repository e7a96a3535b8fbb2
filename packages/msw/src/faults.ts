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
  /** A keyed write is answered `409` "key in use" without running (`stripeLike` only): safe to retry. */
  keyInUse?: number | undefined;
  /** Every write waits this long before committing (the key stays in flight meanwhile). */
  latencyMs?: number | undefined;
}

/** Counted faults: the next `n` matching requests get the fault, whatever `random` says. */
export interface FaultCounts {
  dropAfterCommit?: number | undefined;
  error5xxAfterCommit?: number | undefined;
  error5xxBeforeCommit?: number | undefined;
  /** `Infinity`: every keyed write in scope, until `reset()`. */
  keyInUse?: number | undefined;
}

export type FaultKind = keyof FaultCounts;

/** The write a fault is decided for (the body as the emulators parse it). */
export interface WriteRequest {
  method: string;
  path: string;
  key: string | undefined;
  body: Record<string, unknown>;
}

/**
 * What `inject` takes: counts, optionally a latency, and the writes they apply to. Without a scope
 * they apply to every write; with one, an injection is only taken by the writes it matches, so two
 * injections for two paths (or two orders) never eat each other's counts.
 */
export interface Injection extends FaultCounts {
  /** Writes under this path (e.g. `'/native/'`, or one endpoint) only. */
  pathPrefix?: string | undefined;
  /** Writes this says yes to only (e.g. the one order whose response should be lost). */
  match?: ((write: WriteRequest) => boolean) | undefined;
  /** Writes in scope wait this long before committing, until `reset()` (instead of `latencyMs`). */
  latencyMs?: number | undefined;
}

export interface FaultPlan {
  /** Whether this write gets the fault: a pending injected count first, then the rate. */
  take(kind: FaultKind, write: WriteRequest): boolean;
  /** Waits the latency for this write (an injected one first, else the configured rate; real time). */
  latency(write: WriteRequest): Promise<void>;
  inject(injection: Injection): void;
  reset(): void;
}

const KINDS: readonly FaultKind[] = [
  'dropAfterCommit',
  'error5xxAfterCommit',
  'error5xxBeforeCommit',
  'keyInUse',
];

interface Pending {
  counts: Record<FaultKind, number>;
  latencyMs: number | undefined;
  applies(write: WriteRequest): boolean;
}

export function faultPlan(rates: FaultRates = {}, random: () => number = Math.random): FaultPlan {
  for (const kind of KINDS) {
    const rate = rates[kind];
    if (rate !== undefined && !(rate >= 0 && rate <= 1)) {
      throw new RangeError(`faults.${kind} is a probability between 0 and 1, got ${rate}`);
    }
  }
  let pending: Pending[] = [];
  return {
    take(kind, write) {
      const injected = pending.find((entry) => entry.counts[kind] > 0 && entry.applies(write));
      if (injected) {
        injected.counts[kind]--;
        return true;
      }
      const rate = rates[kind] ?? 0;
      return rate > 0 && random() < rate;
    },
    async latency(write) {
      const injected = pending.find((entry) => entry.latencyMs !== undefined && entry.applies(write));
      const ms = injected?.latencyMs ?? rates.latencyMs;
      if (ms) await delay(ms);
    },
    inject(injection) {
      pending.push(pendingFor(injection));
    },
    reset() {
      pending = [];
    },
  };
}

function pendingFor(injection: Injection): Pending {
  const counts = {} as Record<FaultKind, number>;
  for (const kind of KINDS) {
    const n = injection[kind] ?? 0;
    if (!(n === Number.POSITIVE_INFINITY || (Number.isInteger(n) && n >= 0))) {
      throw new RangeError(`inject: ${kind} is a count (a whole number ≥ 0, or Infinity), got ${n}`);
    }
    counts[kind] = n;
  }
  const { pathPrefix, match, latencyMs } = injection;
  return {
    counts,
    latencyMs,
    applies: (write) =>
      (pathPrefix === undefined || write.path.startsWith(pathPrefix)) &&
      (match === undefined || match(write)),
  };
}
