import {
  ExecutionError,
  type ExecutionStats,
  Redlock,
  ResourceLockedError,
  type Settings,
} from '@sesamecare-oss/redlock';
import type { RedisClient } from './client.js';

/**
 * The in-flight lease as a lock on several independent masters. Behind this small interface so
 * the Redlock implementation can be swapped.
 */
export interface LeaseLock {
  /** Until when (local clock, ms) the lock is known to be held, drift already subtracted. */
  readonly validUntil: number;
  extend(ms: number): Promise<void>;
  release(): Promise<void>;
}

export interface LeaseLocks {
  /** Throws `LeaseHeldError` when another owner holds the resource, another error when no quorum answered. */
  acquire(resource: string, ms: number): Promise<LeaseLock>;
}

export class LeaseHeldError extends Error {
  constructor(resource: string) {
    super(`the lease lock ${resource} is held by another owner`);
    this.name = 'LeaseHeldError';
  }
}

export interface RedlockOptions extends Settings {
  /** Independent masters (ioredis clients); a majority must agree. Create them with `enableOfflineQueue: false` to fail fast. */
  clients: RedisClient[];
}

/** How long to wait for the stragglers' votes when deciding why an acquire failed. */
const VOTE_GRACE_MS = 200;

/**
 * `timeoutMs` bounds each quorum operation: a master whose client queues commands while it
 * reconnects would otherwise hold the vote open.
 */
export function redlockLeases(options: RedlockOptions, timeoutMs: number): LeaseLocks {
  const { clients, ...settings } = options;
  // We retry ourselves where it makes sense; by default one attempt, so a lost quorum fails fast.
  const redlock = new Redlock(clients as never[], { retryCount: 0, ...settings });
  redlock.on('error', () => undefined); // a vote against is reported through acquire/extend
  return {
    async acquire(resource, ms) {
      let lock: Awaited<ReturnType<Redlock['acquire']>>;
      const acquiring = redlock.acquire([resource], ms);
      try {
        lock = await within(acquiring, timeoutMs, 'acquire');
      } catch (error) {
        // A lock granted after we gave up is nobody's: give it back.
        acquiring.then((late) => late.release()).catch(() => undefined);
        throw (await isHeld(error)) ? new LeaseHeldError(resource) : error;
      }
      return {
        get validUntil() {
          return lock.expiration;
        },
        async extend(extra) {
          lock = await within(lock.extend(extra), timeoutMs, 'extend');
        },
        async release() {
          await lock.release();
        },
      };
    },
  };
}

/** Held (not unreachable) when the servers that answered against us were locked, and enough answered. */
async function isHeld(error: unknown): Promise<boolean> {
  if (!(error instanceof ExecutionError)) return false;
  const last = error.attempts[error.attempts.length - 1];
  if (!last) return false;
  const stats = await Promise.race([last, delay(VOTE_GRACE_MS)]);
  if (!stats) return false;
  const unreachable = [...stats.votesAgainst.values()].filter(
    (e) => !(e instanceof ResourceLockedError),
  ).length;
  return unreachable <= stats.membershipSize - stats.quorumSize;
}

async function within<T>(operation: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redlock ${what}: no quorum answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([operation, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function delay(ms: number): Promise<ExecutionStats | undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());
}
