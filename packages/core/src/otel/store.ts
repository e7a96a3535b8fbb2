import { type Histogram, type Meter, metrics } from '@opentelemetry/api';
import type { IdempotencyStore } from '../types.js';
import { ATTRIBUTES, METRICS, SCOPE } from './attributes.js';

/** Store calls timed by `instrumentStore`: `waitFor` (a wait, not a latency) and `list` (a stream) are not. */
const TIMED = new Set<PropertyKey>([
  'reserve',
  'complete',
  'release',
  'extend',
  'markUnknown',
  'takeOver',
  'get',
  'resolve',
  'grantOverride',
  'purgeExpired',
]);

export interface InstrumentStoreOptions {
  /** Default: `metrics.getMeter('@oncely/core')` of the global provider, as registered when this is called. */
  meter?: Meter | undefined;
}

/**
 * The store, with the duration of each call recorded in `oncely.store.duration` (ms, attribute
 * `oncely.store.operation`, and `error.type` — the error's name — when the call failed). Give the
 * result to `createIdempotency({ store })`: the engine calls the store it was created with, so
 * wrapping `idem.store` afterwards would time nothing. Every other property (a store's own
 * `close`, `size`, …) passes through unchanged.
 */
export function instrumentStore<S extends IdempotencyStore>(
  store: S,
  options: InstrumentStoreOptions = {},
): S {
  const histogram = (options.meter ?? metrics.getMeter(SCOPE)).createHistogram(METRICS.storeDuration, {
    description: 'Duration of one idempotency store call',
    unit: 'ms',
  });
  const wrapped = new Map<PropertyKey, { original: unknown; fn: unknown }>();
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      // A non-configurable, read-only method must be returned as is (a Proxy invariant).
      const own = Object.getOwnPropertyDescriptor(target, property);
      if (own && !own.configurable && !own.writable) return value;
      const cached = wrapped.get(property);
      if (cached?.original === value) return cached.fn;
      const bound = (value as (...args: unknown[]) => unknown).bind(target);
      const fn =
        TIMED.has(property) && typeof property === 'string' ? timed(property, bound, histogram) : bound;
      wrapped.set(property, { original: value, fn });
      return fn;
    },
  });
}

function timed(
  operation: string,
  call: (...args: unknown[]) => unknown,
  histogram: Histogram,
): (...args: unknown[]) => Promise<unknown> {
  return async (...args) => {
    const start = performance.now();
    try {
      const result = await call(...args);
      histogram.record(performance.now() - start, { [ATTRIBUTES.storeOperation]: operation });
      return result;
    } catch (error) {
      histogram.record(performance.now() - start, {
        [ATTRIBUTES.storeOperation]: operation,
        'error.type': error instanceof Error ? error.name : typeof error,
      });
      throw error;
    }
  };
}
