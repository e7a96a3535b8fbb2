import { type HttpHandler, HttpResponse } from 'msw';
import {
  type FaultName,
  type FaultPlan,
  type FaultRates,
  faultPlan,
  type Injection,
  type WriteRequest,
} from './faults.js';
import { json } from './http.js';
import type { EmulatorStats, statsRecorder } from './stats.js';

/** A committed write: the resource as created. */
export interface Written {
  path: string;
  key: string | undefined;
  resource: Record<string, unknown>;
}

/**
 * What an emulator tells `onEvent`, as it happens (the stats count the same things, this says when
 * and for which write):
 *
 * - `started`: a write got past the key check (`stripeLike`: not answered from a saved key) and
 *   runs; faults drawn after the key check may still stop it. `plainApi`: every write.
 * - `fault`: a fault was taken (drawn or injected), before the answer it causes; a spike at its start.
 * - `committed`: the write is recorded (what `written()` lists), before its answer.
 * - `rolledBack`: the write was not committed because its client went away (`rollBackAbandoned`).
 * - `lookup`: `plainApi`'s `GET /lookup?ref=` was answered (`found`: 200, else 404).
 */
export type EmulatorEvent =
  | { type: 'started'; write: WriteRequest }
  | { type: 'fault'; fault: FaultName; write: WriteRequest }
  | { type: 'committed'; write: WriteRequest; resource: Record<string, unknown> }
  | { type: 'rolledBack'; write: WriteRequest }
  | { type: 'lookup'; ref: string; found: boolean };

/** The options both emulators take besides their own. */
export interface EmulatorOptions {
  /** e.g. `'https://api.stripe.com'`; every path under it is emulated. */
  baseUrl: string;
  faults?: FaultRates | undefined;
  /** Source of randomness for fault rates (default `Math.random`): pass a seeded one for reproducible runs. */
  random?: (() => number) | undefined;
  /** Called with every event as it happens (synchronously: keep it quick). */
  onEvent?: ((event: EmulatorEvent) => void) | undefined;
}

export interface Emulator {
  handlers: HttpHandler[];
  stats(): EmulatorStats;
  /** Committed writes, in order. */
  written(): Written[];
  /** The first committed resource whose `ref` field is `ref` (a copy), if any. */
  find(ref: string): Record<string, unknown> | undefined;
  /**
   * Counted faults for the next matching writes (deterministic, unlike the rates), optionally
   * scoped to a path prefix or a predicate, with a latency for the writes in scope.
   */
  inject(injection: Injection): void;
  /** Forgets writes, keys, stats and injected faults. */
  reset(): void;
}

type Stats = ReturnType<typeof statsRecorder>;

/** The parts both emulators share: their fault plan (faults counted and reported) and events. */
export function instrument(options: EmulatorOptions, stats: Stats) {
  const emit = options.onEvent ?? (() => {});
  const faults: FaultPlan = faultPlan(options.faults, options.random, (fault, write) => {
    stats.fault(fault);
    emit({ type: 'fault', fault, write });
  });
  return {
    faults,
    emit,
    /** Records a committed write (stats per `key`, the event). */
    commit(written: Written[], write: WriteRequest, resource: Record<string, unknown>) {
      written.push({ path: write.path, key: write.key, resource });
      stats.count('writes', write.key);
      emit({ type: 'committed', write, resource });
    },
    /** After the commit: the answer, unless a fault loses it or turns it into a 500 with `error`. */
    answer(write: WriteRequest, ok: () => Response, error: unknown): Response {
      if (faults.take('dropAfterCommit', write)) {
        stats.count('dropped');
        return HttpResponse.error();
      }
      if (faults.take('error5xxAfterCommit', write)) {
        stats.count('errors5xx');
        return json(500, error);
      }
      return ok();
    },
  };
}

/** The first resource of `written` with this `ref`, copied. */
export function findByRef(written: Written[], ref: string): Record<string, unknown> | undefined {
  const found = written.find((w) => w.resource.ref === ref);
  return found && { ...found.resource };
}

/**
 * The `Emulator` both emulators return over their state: `written` reads the current list,
 * `forget` drops what only that emulator keeps (its writes, ids, keys) on `reset()`.
 */
export function emulatorOver(
  handlers: HttpHandler[],
  state: { stats: Stats; faults: FaultPlan; written: () => Written[] },
  forget: () => void,
): Emulator {
  return {
    handlers,
    stats: () => state.stats.snapshot(),
    written: () => state.written().map((w) => ({ ...w, resource: { ...w.resource } })),
    find: (ref) => findByRef(state.written(), ref),
    inject: (counts) => state.faults.inject(counts),
    reset() {
      forget();
      state.stats.reset();
      state.faults.reset();
    },
  };
}
