import type { Idempotency } from '@oncely/core';
import type { AxiosInstance } from 'axios';
import { bareAxios, powertoolsPost } from '../lib/clients.js';
import type { Context } from '../lib/context.js';
import { commandStats, delta } from '../lib/redis-server.js';
import { type Section, section } from '../lib/report.js';
import { fmtMs, fmtNum, percentile } from '../lib/stats.js';

const CONCURRENT = 100;
/** The owner's write takes this long downstream, so the 99 others arrive while it is in flight. */
const DOWNSTREAM_MS = 20;

interface Outcome {
  end: number;
  replayed: boolean;
  error?: string;
}

/** 4. Hot key: 100 concurrent identical writes → 1 downstream write; owner completion → last waiter. */
export async function hotKey(ctx: Context): Promise<Section> {
  const s = section('s4', `4. Hot key: ${CONCURRENT} concurrent identical writes`);
  const rounds = ctx.n(6, 40);
  const body = { ref: 'hot', amount: 4200, currency: 'eur' };
  const rows: string[][] = [];
  let ownerToLast: number[] = [];

  const run = async (name: string, clients: (i: number) => AxiosInstance, tag: string): Promise<void> => {
    const lags: number[] = [];
    const writes: number[] = [];
    let errors = 0;
    let badOwners = 0;
    const statsBefore = await commandStats(ctx.redis.admin);
    for (let r = 0; r < rounds; r++) {
      const path = `/s4/${tag}-${ctx.runId}-${r}`;
      const url = `${ctx.server.base}${path}?delay=${DOWNSTREAM_MS}`;
      const outcomes = await Promise.all(
        Array.from({ length: CONCURRENT }, async (_, i): Promise<Outcome> => {
          try {
            const res = await clients(i).post(url, body);
            const info = (res as { oncely?: { replayed?: boolean } }).oncely;
            const replayed = info?.replayed ?? String(res.headers['oncely-replayed']) === 'true';
            return { end: performance.now(), replayed };
          } catch (error) {
            return { end: performance.now(), replayed: false, error: String(error) };
          }
        }),
      );
      writes.push(await ctx.server.count(path));
      errors += outcomes.filter((o) => o.error).length;
      const owners = outcomes.filter((o) => !o.error && !o.replayed);
      if (owners.length !== 1) {
        badOwners++;
        continue;
      }
      const ownerEnd = owners[0]!.end;
      const last = Math.max(...outcomes.filter((o) => o.replayed).map((o) => o.end));
      lags.push(last - ownerEnd);
    }
    const used = delta(statsBefore, await commandStats(ctx.redis.admin));
    const calls = (name: string) => (used.get(name) ?? 0) / rounds;
    let all = 0;
    for (const [cmd, n] of used) if (!cmd.startsWith('usec:')) all += n / rounds;
    const redisCommands = tag.startsWith('redis')
      ? `${fmtNum(calls('evalsha'))} scripts, ${fmtNum(calls('subscribe') + calls('unsubscribe'))} (un)subscribes; ${fmtNum(all)} commands in all`
      : '—';
    const sorted = [...lags].sort((a, b) => a - b);
    rows.push([
      name,
      String(rounds),
      `${Math.min(...writes)}–${Math.max(...writes)}`,
      String(errors),
      fmtMs(percentile(sorted, 50)),
      fmtMs(percentile(sorted, 99)),
      redisCommands,
      badOwners ? `${badOwners} rounds without exactly one owner` : '',
    ]);
    if (tag === 'redis-n') ownerToLast = sorted;
    if (tag.startsWith('redis')) {
      const maxWrites = Math.max(...writes);
      s.targets.push({
        what: `hot key, ${name}: downstream writes per round`,
        target: '1',
        measured: `${Math.min(...writes)}–${maxWrites}`,
        met: maxWrites === 1 && Math.min(...writes) === 1,
      });
      const p50 = percentile(sorted, 50);
      s.targets.push({
        what: `hot key, ${name}: owner done → last waiter (p50)`,
        target: '≤ 5 ms',
        measured: `${fmtMs(p50)} ms (p99 ${fmtMs(percentile(sorted, 99))} ms)`,
        met: Number.isFinite(p50) ? p50 <= 5 : undefined,
      });
    }
  };

  const idemOne = ctx.memoryIdem({ namespace: 's4m' });
  const memoryAxios = ctx.oncelyAxios(idemOne, 128);
  await run('oncely + memory, 1 instance', () => memoryAxios, 'mem');
  if (ctx.redisStore) {
    const one = ctx.oncelyAxios(await ctx.redisIdem({ namespace: 's4r' }), 128);
    await run('oncely + Redis, 1 instance (in-process coalescing)', () => one, 'redis-1');
    // One idempotency instance, store and ioredis connection per caller: 100 "processes" sharing Redis.
    const many: AxiosInstance[] = [];
    const idems: Idempotency[] = [];
    for (let i = 0; i < CONCURRENT; i++) idems.push(await ctx.redisIdem({ namespace: 's4r' }));
    for (const idem of idems) many.push(ctx.oncelyAxios(idem, 4));
    ctx.log(`s4: ${CONCURRENT} separate oncely+Redis instances ready`);
    await run(`oncely + Redis, ${CONCURRENT} instances (cross-process path)`, (i) => many[i]!, 'redis-n');
    // 10 "processes" with 10 duplicates each: one waits across processes, nine coalesce in-process.
    await run('oncely + Redis, 10 instances × 10 calls', (i) => many[i % 10]!, 'redis-10');
  } else s.notes.push('oncely + Redis: skipped, `@oncely/redis` has no `redisStore` yet.');

  // Powertools has no waiting: duplicates get IdempotencyAlreadyInProgressError at once.
  const ptRounds = Math.min(rounds, 5);
  const powertools = async (name: string, tag: string, lambdaContext: boolean) => {
    const pt = powertoolsPost(await ctx.nodeRedis(), bareAxios(128), {
      keyPrefix: `s4${tag}-${ctx.runId}`,
      lambdaContext,
    });
    const writes: number[] = [];
    let failed = 0;
    let answered = 0;
    const warn = console.warn;
    if (!lambdaContext) console.warn = () => {}; // it warns once per call without a context
    try {
      for (let r = 0; r < ptRounds; r++) {
        const path = `/s4/${tag}-${ctx.runId}-${r}`;
        const url = `${ctx.server.base}${path}?delay=${DOWNSTREAM_MS}`;
        const results = await Promise.allSettled(Array.from({ length: CONCURRENT }, () => pt({ url, body })));
        failed += results.filter((x) => x.status === 'rejected').length;
        answered += results.filter((x) => x.status === 'fulfilled').length;
        writes.push(await ctx.server.count(path));
      }
    } finally {
      console.warn = warn;
    }
    rows.push([
      name,
      String(ptRounds),
      `${Math.min(...writes)}–${Math.max(...writes)}`,
      String(failed),
      'n/a',
      'n/a',
      '—',
      `${answered} calls answered, ${failed} failed (IdempotencyAlreadyInProgressError): duplicates do not wait`,
    ]);
  };
  await powertools('Powertools + Redis, 1 instance (60 s Lambda context)', 'pt', true);
  await powertools('Powertools + Redis, 1 instance, no Lambda context', 'ptn', false);
  ctx.log('s4: done');

  s.tables.push({
    header: [
      'variant',
      'rounds',
      'downstream writes per round',
      'errors',
      'owner done → last waiter p50 ms',
      'p99 ms',
      'Redis per round',
      'note',
    ],
    rows,
  });
  s.notes.push(
    `The ${CONCURRENT} instances are ${CONCURRENT} separate idempotency instances, Redis stores and ioredis ` +
      'connections (as separate processes would have) but all in this one Node process: their wake-ups, ' +
      're-reads and replays run one after another on one event loop and 2 shared cores, so the lag measured ' +
      'here is an upper bound of what separate processes would see.',
  );
  s.notes.push(
    `Each round fires ${CONCURRENT} identical POSTs at once; the downstream answers after ${DOWNSTREAM_MS} ms, ` +
      'so the others arrive while the first is in flight. "owner done → last waiter" is the time from the ' +
      "moment the owner's call returned to the moment the last duplicate got its replay (it can be negative: " +
      "waiters are woken when the record completes in Redis, before the owner's own reply is back). " +
      'Target: 1 downstream write, last waiter ≤ 5 ms after the owner (p50). Without a Lambda context ' +
      'Powertools writes no in-progress expiry and treats an in-progress record as an orphan (their #5678), ' +
      'so a duplicate can run the write again.',
  );
  if (ownerToLast.length) {
    s.ratios.push({
      label: 'hot key: last waiter lag p50 / 5 ms target',
      value: Math.max(0, percentile(ownerToLast, 50)) / 5,
      target: 1,
      better: 'lower',
    });
  }
  return s;
}
