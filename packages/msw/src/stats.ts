import { FAULT_KINDS, type FaultName } from './faults.js';

/** What one key (or, for `plainApi`, one `ref`) saw. */
export interface KeyStats {
  writes: number;
  replays: number;
  inUse: number;
  mismatches: number;
}

export interface EmulatorStats extends KeyStats {
  /** Responses lost after the write was committed. */
  dropped: number;
  /** 5xx answers (before or after commit). */
  errors5xx: number;
  /** Writes refused by validation (never saved under their key). */
  invalid: number;
  /** Writes not committed because their client went away first (`plainApi` `rollBackAbandoned`). */
  rolledBack: number;
  /** Keys (or refs) written more than once: the double charges. */
  duplicates: number;
  /** Faults taken, by kind (drawn from the rates or injected): a 503 and a 500 told apart. */
  faults: Record<FaultName, number>;
  byKey: Record<string, KeyStats>;
}

export type Counter = Exclude<keyof EmulatorStats, 'byKey' | 'duplicates' | 'faults'>;

/** Counts events in total and per key; `snapshot()` returns a copy the caller may keep. */
export function statsRecorder() {
  let totals = blank();
  let byKey = new Map<string, KeyStats>();
  let faults = noFaults();
  return {
    fault(name: FaultName): void {
      faults[name]++;
    },
    count(counter: Counter, key?: string | undefined): void {
      totals[counter]++;
      if (key === undefined || !(counter in KEY_COUNTERS)) return;
      const entry = byKey.get(key) ?? { writes: 0, replays: 0, inUse: 0, mismatches: 0 };
      entry[counter as keyof KeyStats]++;
      byKey.set(key, entry);
    },
    snapshot(): EmulatorStats {
      const entries = [...byKey].map(([key, value]) => [key, { ...value }] as const);
      return {
        ...totals,
        duplicates: entries.filter(([, value]) => value.writes > 1).length,
        faults: { ...faults },
        byKey: Object.fromEntries(entries),
      };
    },
    reset(): void {
      totals = blank();
      byKey = new Map();
      faults = noFaults();
    },
  };
}

const KEY_COUNTERS = { writes: true, replays: true, inUse: true, mismatches: true };

const COUNTERS: readonly Counter[] = [
  'writes',
  'replays',
  'inUse',
  'mismatches',
  'dropped',
  'errors5xx',
  'invalid',
  'rolledBack',
];
const FAULTS: readonly FaultName[] = [...FAULT_KINDS, 'latencySpike'];

function zeros<Name extends string>(names: readonly Name[]): Record<Name, number> {
  return Object.fromEntries(names.map((name) => [name, 0])) as Record<Name, number>;
}
const blank = () => zeros(COUNTERS);
const noFaults = () => zeros(FAULTS);
