// Types of run.mjs for the TypeScript test that drives it.

export interface FaultRates {
  /** Probability that a committing write's response is dropped (socket destroyed after the commit). */
  drop: number;
  /** Probability of a 500 answered after the commit. */
  error5xx: number;
  /** Probability of a 503 answered before anything is recorded. */
  error503: number;
  /** Probability of a latency spike of 1.5 × the lease before the commit. */
  spike: number;
}

export interface ChaosOptions {
  /** Logical operations (every worker runs all of them, in its own order). */
  n: number;
  workers: number;
  /** Operations in flight per worker. */
  concurrency: number;
  /** Worker SIGKILLs as a fraction of `n`, at random progress points. */
  killRate: number;
  seed: number;
  leaseMs: number;
  waitMs: number;
  /** Each client's own retries for POST. */
  retries: number;
  commandTimeoutMs: number;
  faults: FaultRates;
  /** Progress lines on stderr. */
  log: boolean;
  /** Turn off the reconcile hook's lease workaround (shows the core bug described in README.md). */
  naiveReconcile: boolean;
  /**
   * The provider commits a spiked reconciled-route write even when its client died meanwhile (off:
   * rolled back). On, a duplicate is possible by design (README.md, "Leases versus slow providers").
   */
  lateCommits: boolean;
  /**
   * `'aof'` (default): Redis runs with AOF (everysec) and its crash loses about nothing. `'none'`: no
   * AOF, no RDB — the crash + restart loses every record, and the store must find out (epoch) and
   * fail closed / presume unknown instead of writing again.
   */
  redisPersistence: 'aof' | 'none';
  /** The workers' store `resetWindowMs`; 0 (default): 2 × `leaseMs`. */
  resetWindowMs: number;
  /** The workers' store `resetUnknownMs`; `undefined` (default): the store's default (24 h). `0` shows what the presumption prevents. */
  resetUnknownMs: number | undefined;
  /**
   * The workers' `createIdempotency({ record })`. `'after-return'`: each executed outcome is handed
   * back before its record lands (a worker SIGKILLed in that gap leaves the record `in_flight`, to
   * be reconciled after its lease expires); workers `flush()` before they exit.
   */
  record: 'before-return' | 'after-return';
}

export interface ProviderStats {
  perRef: Record<string, { writes: number; sha: string }>;
  injected: Record<keyof FaultRates, number>;
  counts: {
    posts: number;
    lookups: number;
    inUse: number;
    providerReplays: number;
    mismatches: number;
    rolledBack: number;
  };
  window: { open: boolean; opened: number; posts: number; executed: number; refs: string[] };
}

export interface ChaosFigures {
  operations: number;
  executions: number;
  writes: number;
  duplicates: number;
  unknowns: number;
  reconciled: number;
  replays: number;
  waits: number;
  takeovers: number;
  staleWritesRefused: number;
  leaseLostEvents: number;
  /** `StoreUnavailableError` refusals while Redis was down (and in the provider's counting window). */
  storeDownRefusals: number;
  storeDownRefusalsInWindow: number;
  /** `StoreUnavailableError` refusals while Redis was up (commands past `commandTimeoutMs` on a loaded machine). */
  refusalsUnderLoad: number;
  /** Attempts whose lease was taken over by another owner while they still held it (keeper refused). */
  leasesLostToTakeover: number;
  /** `lease-lost` events for tokens nobody took over: the keeper racing the attempt's own final write. */
  leaseLostSpurious: number;
  windowPosts: number;
  windowExecuted: number;
  byteMismatches: number;
  kills: number;
  workerStarts: number;
  redisRestarts: number;
  /** `store-reset` events the workers' stores reported (one per store instance and loss). */
  storeResets: number;
  /** Calls refused with `StoreResetError` (the reset window). */
  resetRefusals: number;
  /**
   * Operations the store met without a record after the loss (lost, or not run before: it cannot
   * tell), written `unknown` instead of reserved, then re-sent under the provider key or reconciled.
   */
  resetAffected: number;
  /** Of those, plain operations without a reconcile hook: they stay unknown (listed), never sent blindly. */
  resetAffectedUnknown: number;
  failedInMain: number;
  /**
   * Live 2xx answers a worker got before it had seen their `completed` event (`record:
   * 'after-return'`: the record was still being written; a lower bound). 0 with `'before-return'`.
   */
  returnedBeforeRecord: number;
  wallMs: number;
}

export interface ChaosReport {
  /** The one summary line. */
  summary: string;
  figures: ChaosFigures;
  /** Empty when every invariant holds. */
  violations: string[];
  /** For up to 5 offending operations: the provider's log of their requests and every worker's oncely events. */
  traces: Record<string, { provider: string[]; events: string[] }>;
  /** Every oncely event type (and sub-kind) counted over all workers. */
  events: Record<string, number>;
  injected: Record<keyof FaultRates, number>;
  provider: ProviderStats['counts'];
  failures: string[];
}

export const DEFAULTS: ChaosOptions;
export function runChaos(options?: Partial<ChaosOptions>): Promise<ChaosReport>;
/** SIGKILLs every process runChaos started and has not reaped (also done on exit). */
export function killAll(): void;
