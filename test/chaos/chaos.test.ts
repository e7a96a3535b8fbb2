import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type ChaosReport, killAll, runChaos } from './run.mjs';

/**
 * The chaos suite's CI configuration (see test/chaos/README.md for the long ones): real
 * redis-server with AOF, a provider process, 4 worker processes × 50 concurrent operations over
 * the axios, got and undici plugins, workers SIGKILLed and restarted, Redis crashed and restarted,
 * then every operation re-run once. The workers run the built packages: `pnpm test` builds first.
 */
const built = ['core', 'redis', 'axios', 'got', 'undici'].map((name) =>
  fileURLToPath(new URL(`../../packages/${name}/dist/index.js`, import.meta.url)),
);

/** What every configuration must show: no violation, no duplicate, byte-equal replays, nothing sent while down. */
function expectInvariants(report: ChaosReport): ChaosReport['figures'] {
  expect(report.violations, JSON.stringify(report.traces, null, 1)).toEqual([]);
  const f = report.figures;
  expect(f.duplicates).toBe(0);
  expect(f.byteMismatches).toBe(0);
  expect(f.windowExecuted).toBe(0);
  return f;
}

describe('chaos (CI configurations)', () => {
  // runChaos stops what it started; this is for a run cut short by the test timeout.
  afterAll(() => killAll());

  it('no duplicate writes, nothing lost, nothing guessed, nothing sent while the store is down', {
    timeout: 290_000,
  }, async () => {
    const missing = built.filter((file) => !existsSync(file));
    expect(missing, 'the chaos workers run dist/: run `pnpm build` first').toEqual([]);

    const report: ChaosReport = await runChaos({ n: 300, workers: 4, concurrency: 50, killRate: 0.05 });
    console.log(report.summary);

    // The invariants (each violation names the operation; traces explain the first few).
    const f = expectInvariants(report);

    // The run really went through the faults it claims (otherwise the invariants prove nothing).
    expect(f.kills).toBe(15);
    expect(f.redisRestarts).toBe(1);
    expect(f.storeDownRefusals).toBeGreaterThan(0);
    expect(f.takeovers).toBeGreaterThan(0);
    expect(f.reconciled).toBeGreaterThan(0);
    expect(f.replays).toBeGreaterThan(0);
    for (const [kind, count] of Object.entries(report.injected)) {
      expect(count, `fault ${kind} was never injected`).toBeGreaterThan(0);
    }
    // Every native-key operation was written exactly once; plain ones at most once.
    expect(f.writes).toBeGreaterThanOrEqual(f.operations - f.unknowns);
    expect(f.writes).toBeLessThanOrEqual(f.operations);
    // 'before-return' (the default): no caller is answered before its record landed.
    expect(f.returnedBeforeRecord).toBe(0);
  });

  it("record: 'after-return': responses handed back before their record lands, workers killed in that gap, still no duplicate", {
    timeout: 290_000,
  }, async () => {
    const missing = built.filter((file) => !existsSync(file));
    expect(missing, 'the chaos workers run dist/: run `pnpm build` first').toEqual([]);

    // Smaller than the first run (the faults are the same): the point is the off-path record.
    const report: ChaosReport = await runChaos({
      n: 200,
      workers: 4,
      concurrency: 50,
      killRate: 0.05,
      seed: 3,
      record: 'after-return',
    });
    console.log(report.summary);

    // A SIGKILL after the answer but before the record leaves it in_flight: the lease expires and
    // the next attempt reconciles (native: re-sent under the provider's key; plain: looked up, or
    // unknown without a hook). Never a second write, and every 2xx body is the original one.
    const f = expectInvariants(report);
    expect(f.writes).toBeGreaterThanOrEqual(f.operations - f.unknowns);
    expect(f.writes).toBeLessThanOrEqual(f.operations);

    // The gap really happened, and the run went through the faults.
    expect(f.returnedBeforeRecord).toBeGreaterThan(0);
    expect(f.kills).toBe(10);
    expect(f.redisRestarts).toBe(1);
    expect(f.storeDownRefusals).toBeGreaterThan(0);
    expect(f.takeovers).toBeGreaterThan(0);
  });

  it('Redis restarted WITHOUT persistence: every lost operation is refused, reconciled or unknown, never written twice', {
    timeout: 290_000,
  }, async () => {
    const missing = built.filter((file) => !existsSync(file));
    expect(missing, 'the chaos workers run dist/: run `pnpm build` first').toEqual([]);

    // Smaller than the AOF run: the point is the restart, after which Redis is empty.
    const report: ChaosReport = await runChaos({
      n: 120,
      workers: 3,
      concurrency: 40,
      killRate: 0.05,
      seed: 2,
      redisPersistence: 'none',
    });
    console.log(report.summary);

    // The same invariants as with AOF: native-key operations written exactly once (the provider
    // deduplicates the re-send under its key), plain ones at most once (reconciled ones exactly
    // once), unknowns listed in the store, replays byte-equal, nothing sent while Redis was down.
    const f = expectInvariants(report);
    expect(f.writes).toBeLessThanOrEqual(f.operations);

    // The loss really happened and was detected: every live worker's store reported it, grants were
    // refused during the reset window, and operations Redis had forgotten were met again afterwards.
    expect(f.redisRestarts).toBe(1);
    expect(f.storeResets).toBeGreaterThan(0);
    expect(f.resetRefusals).toBeGreaterThan(0);
    expect(f.resetAffected).toBeGreaterThan(0);
    expect(f.kills).toBe(6);
  });
});
