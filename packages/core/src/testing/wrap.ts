import type { IdempotencyStore } from '../types.js';

/**
 * A store that delegates every call to `store`, except those given in `over`: the way tests
 * inject a delay, a fault or a racing actor at one exact call (no sleeps, no timing).
 */
export function wrapStore(store: IdempotencyStore, over: Partial<IdempotencyStore> = {}): IdempotencyStore {
  return {
    reserve: (i) => store.reserve(i),
    complete: (k, t, i) => store.complete(k, t, i),
    release: (k, t) => store.release(k, t),
    extend: (k, t, l) => store.extend(k, t, l),
    markUnknown: (k, t, c, ttl) => store.markUnknown(k, t, c, ttl),
    takeOver: (k, i) => store.takeOver(k, i),
    get: (k) => store.get(k),
    waitFor: (k, t, s) => store.waitFor(k, t, s),
    list: (f) => store.list(f),
    resolve: (k, r, a, e) => store.resolve(k, r, a, e),
    grantOverride: (k, g, a, e) => store.grantOverride(k, g, a, e),
    purgeExpired: () => store.purgeExpired(),
    ...over,
  };
}
