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
  /**
   * With probability `rate`, a write waits `ms` more before committing (after `latencyMs`): a slow
   * moment of the provider, e.g. longer than the caller's lease.
   */
  latencySpike?: { rate: number; ms: number } | undefined;
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

/** Every fault an emulator can inject: the counted kinds and the latency spike. */
export type FaultName = FaultKind | 'latencySpike';

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
  /**
   * Waits the latency for this write (an injected one first, else the configured rate; real time),
   * then a spike if `latencySpike` draws one.
   */
  latency(write: WriteRequest): Promise<void>;
  inject(injection: Injection): void;
  reset(): void;
}

/** The counted kinds (what `inject` and the rates take). */
export const FAULT_KINDS: readonly FaultKind[] = [
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

function checkRate(name: string, rate: number | undefined): void {
  if (rate !== undefined && !(rate >= 0 && rate <= 1)) {
    throw new RangeError(`faults.${name} is a probability between 0 and 1, got ${rate}`);
  }
}

/**
 * `onFault` is called with every fault taken (drawn or injected), as it is taken: before the
 * answer it causes, at the start of a spike.
 */
export function faultPlan(
  rates: FaultRates = {},
  random: () => number = Math.random,
  onFault: (fault: FaultName, write: WriteRequest) => void = () => {},
): FaultPlan {
  for (const kind of FAULT_KINDS) checkRate(kind, rates[kind]);
  const spike = rates.latencySpike;
  if (spike) {
    checkRate('latencySpike.rate', spike.rate);
    if (!(Number.isFinite(spike.ms) && spike.ms >= 0))
      throw new RangeError(`faults.latencySpike.ms is a duration in ms (≥ 0), got ${spike.ms}`);
  }
  let pending: Pending[] = [];
  const draw = (rate: number | undefined) => rate !== undefined && rate > 0 && random() < rate;
  return {
    take(kind, write) {
      const injected = pending.find((entry) => entry.counts[kind] > 0 && entry.applies(write));
      if (injected) injected.counts[kind]--;
      const taken = injected !== undefined || draw(rates[kind]);
      if (taken) onFault(kind, write);
      return taken;
    },
    async latency(write) {
      const injected = pending.find((entry) => entry.latencyMs !== undefined && entry.applies(write));
      const ms = injected?.latencyMs ?? rates.latencyMs;
      if (ms) await delay(ms);
      if (spike && draw(spike.rate)) {
        onFault('latencySpike', write);
        await delay(spike.ms);
      }
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
  for (const kind of FAULT_KINDS) {
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
