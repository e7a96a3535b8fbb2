import { LeaseLostError } from './errors.js';
import type { OncelyEvent } from './events.js';
import type { IdempotencyStore } from './types.js';

export interface LeaseKeeper {
  stop(): void;
}

/**
 * Extends the lease every third of its length while the call runs, so a slow call keeps its key
 * and a dead process (which stops extending) loses it. A lost lease is reported, not fatal: the
 * fencing token decides at record time.
 */
export function keepLease(
  store: IdempotencyStore,
  key: string,
  token: number,
  leaseMs: number,
  emit: (event: OncelyEvent) => void,
  onExtended?: (askedAt: number) => void,
): LeaseKeeper {
  let stopped = false;
  const timer = setInterval(
    () => {
      // The store starts the new lease when it runs the extend, which is after we ask: a lease
      // counted from the asking moment ends no later than the store's.
      const askedAt = performance.now();
      store.extend(key, token, leaseMs).then(
        () => onExtended?.(askedAt),
        (error: unknown) => {
          // An extend that lands after the attempt's own final write is refused by design: not news.
          if (stopped) return;
          if (error instanceof LeaseLostError) {
            clearInterval(timer);
            emit({ type: 'lease-lost', key, token });
          } else {
            emit({
              type: 'store-error',
              key,
              operation: 'extend',
              message: String((error as Error)?.message ?? error),
            });
          }
        },
      );
    },
    Math.max(5, Math.floor(leaseMs / 3)),
  );
  timer.unref();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
