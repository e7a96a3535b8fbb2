import type { ResolvedConfig, ResolvedRoute } from '../config.js';
import type { Derived } from '../derive.js';
import type { OncelyEvent } from '../events.js';
import type { ProviderPreset } from '../providers.js';
import type {
  ExecuteOptions,
  ExecuteResult,
  IdempotencyOptions,
  IdempotencyRecord,
  IdempotencyStore,
  OutgoingRequest,
  Send,
} from '../types.js';

/** What every part of the engine shares for the life of one `createIdempotency`. */
export interface Engine {
  readonly config: ResolvedConfig;
  readonly store: IdempotencyStore;
  readonly emit: (event: OncelyEvent) => void;
  /** The fetch the existing-resource look-up uses (`options.fetch`, else the global one). */
  readonly fetch: NonNullable<IdempotencyOptions['fetch']>;
  /** Outcomes being recorded off the callers' path (`record: 'after-return'`): what `flush()` awaits. */
  readonly pending: Set<Promise<void>>;
}

/** What a guarded request resolved to: its route, its provider, and the durations that apply. */
export interface Plan {
  route: ResolvedRoute | undefined;
  preset: ProviderPreset | undefined;
  ttlMs: number;
  leaseMs: number;
}

/** One guarded call on its way through the lifecycle: the context every step of it reads. */
export interface Operation {
  engine: Engine;
  derived: Derived;
  plan: Plan;
  request: OutgoingRequest;
  send: Send;
  options: ExecuteOptions;
  owner: string;
  deadline: number;
  /**
   * Until when (local monotonic clock, `performance.now()`) the lease is surely ours: counted from
   * the moment we asked the store for it, which precedes the store's own start of the lease.
   */
  leaseDeadline: number;
  /** Times the loop has looked at the key: looks after the first few are paced (see pacing.ts). */
  looks: number;
  lastLookAt: number;
  /**
   * Set when the response was handed back before its record landed (`record: 'after-return'`):
   * settles (never rejects) once the record is written or its failure reported.
   */
  recorded?: Promise<void> | undefined;
}

/** Either the call is finished, or the loop looks at the key again (with a record already in hand, if any). */
export type Step = { done: ExecuteResult } | { next: IdempotencyRecord | undefined };

/** Look at the key again from the start: the lease is gone or someone else holds the key. */
export const LOOK_AGAIN: Step = { next: undefined };

/** The lease was (re)granted: it is surely ours until `askedAt + leaseMs` on the local monotonic clock. */
export function leaseGranted(op: Operation, askedAt: number): void {
  op.leaseDeadline = Math.max(op.leaseDeadline, askedAt + op.plan.leaseMs);
}
