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
  /** Keys (or refs) written more than once: the double charges. */
  duplicates: number;
  byKey: Record<string, KeyStats>;
}

export type Counter = Exclude<keyof EmulatorStats, 'byKey' | 'duplicates'>;

/** Counts events in total and per key; `snapshot()` returns a copy the caller may keep. */
export function statsRecorder() {
  let totals = blank();
  let byKey = new Map<string, KeyStats>();
  return {
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
        byKey: Object.fromEntries(entries),
      };
    },
    reset(): void {
      totals = blank();
      byKey = new Map();
    },
  };
}

const KEY_COUNTERS = { writes: true, replays: true, inUse: true, mismatches: true };

function blank(): Omit<EmulatorStats, 'byKey' | 'duplicates'> {
  return { writes: 0, replays: 0, inUse: 0, mismatches: 0, dropped: 0, errors5xx: 0, invalid: 0 };
}
