import type { IdempotencyStore } from '@oncely/core';

export interface CountingStore {
  store: IdempotencyStore;
  /** Store method calls made so far, by method name. */
  calls(): Record<string, number>;
  total(): number;
}

/** Wraps a store so a test can assert that a request made no store call at all. */
export function countingStore(inner: IdempotencyStore): CountingStore {
  const counts: Record<string, number> = {};
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        counts[property] = (counts[property] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return {
    store,
    calls: () => ({ ...counts }),
    total: () => Object.values(counts).reduce((sum, n) => sum + n, 0),
  };
}
