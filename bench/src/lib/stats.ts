/** Latency samples in milliseconds. */
export interface Summary {
  n: number;
  median: number;
  p99: number;
  mean: number;
  min: number;
}

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? Number.NaN;
}

export function summarise(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((acc, x) => acc + x, 0);
  return {
    n: sorted.length,
    median: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sorted.length ? sum / sorted.length : Number.NaN,
    min: sorted[0] ?? Number.NaN,
  };
}

/** `BENCH_VARIANTS` (a regexp, for the profiler): whether the variant named `name` runs. */
export function selected(name: string): boolean {
  const filter = process.env.BENCH_VARIANTS;
  return !filter || new RegExp(filter, 'i').test(name);
}

/** Called with the variant's name when one of its operations throws. */
export type OnError = (variant: string, error: unknown) => void;

const rethrow: OnError = (_variant, error) => {
  throw error;
};

export interface Variant {
  name: string;
  /** One operation; `i` is the per-variant iteration number (0-based, warm-up included). */
  op: (i: number) => Promise<unknown>;
}

/**
 * Runs the variants interleaved (A B C, B C A, C A B, …: the start rotates so no variant always
 * follows the same neighbour), one operation each per round, and returns the timed samples (ms).
 * The first `warmup` rounds are run but not recorded. `BENCH_VARIANTS` (a regexp) keeps only the
 * variants whose name matches (used by the profiler).
 */
export async function interleaved(
  variants: Variant[],
  rounds: number,
  warmup: number,
  onError: OnError = rethrow,
): Promise<Map<string, number[]>> {
  variants = variants.filter((v) => selected(v.name));
  const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  const count = variants.length;
  for (let round = 0; round < warmup + rounds; round++) {
    for (let j = 0; j < count; j++) {
      const variant = variants[(round + j) % count]!;
      const start = performance.now();
      try {
        await variant.op(round);
      } catch (error) {
        onError(variant.name, error); // a failed operation is reported, never timed
        continue;
      }
      const elapsed = performance.now() - start;
      if (round >= warmup) samples.get(variant.name)!.push(elapsed);
    }
  }
  return samples;
}

/** Runs `total` operations with at most `concurrency` in flight; returns the wall time in ms. */
export async function pool(
  total: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
  onError: (error: unknown) => void = (error) => {
    throw error;
  },
): Promise<number> {
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= total) return;
      try {
        await op(i);
      } catch (error) {
        onError(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return performance.now() - start;
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  if (Math.abs(ms) >= 100) return ms.toFixed(0);
  if (Math.abs(ms) >= 10) return ms.toFixed(1);
  return ms.toFixed(3);
}

export function fmtRatio(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}×` : 'n/a';
}

export function fmtNum(x: number, digits = 0): string {
  return Number.isFinite(x)
    ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : 'n/a';
}
