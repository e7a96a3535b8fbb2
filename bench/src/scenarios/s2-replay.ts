import { makeBody } from '../lib/bodies.js';
import { bareAxios, powertoolsPost } from '../lib/clients.js';
import type { Context } from '../lib/context.js';
import { type Section, section } from '../lib/report.js';
import { fmtMs, fmtRatio, interleaved, summarise, type Variant } from '../lib/stats.js';
import { BODY_BYTES } from './s1-fresh.js';

/** 2. Replays of writes already completed: oncely+Redis vs Powertools (and the in-process variants). */
export async function replays(ctx: Context): Promise<Section> {
  const s = section('s2', '2. Replays of completed writes (1 KiB JSON body)');
  const rounds = ctx.n(200, 2000);
  const warmup = ctx.n(30, 300);
  const total = rounds + warmup;
  const url = (v: string) => `${ctx.server.base}/s2/${v}`;
  const body = (v: string, i: number) => makeBody(`${ctx.runId}-s2-${v}-${i}`, BODY_BYTES);

  /** `write` (when given) writes the record the timed `op` replays; else `op` does both. */
  const replayVariants: Array<Variant & { path: string; write?: (i: number) => Promise<unknown> }> = [];
  const memory = ctx.oncelyAxios(ctx.memoryIdem({ namespace: 's2m' }));
  replayVariants.push({
    name: 'oncely + memory',
    path: 'mem',
    op: (i) => memory.post(url('mem'), body('mem', i)),
  });
  if (ctx.redisStore) {
    // The process that wrote the records keeps them (sized like Powertools' local cache below).
    const redis = ctx.oncelyAxios(await ctx.redisIdem({ namespace: 's2r', cacheRecords: total + 10 }));
    replayVariants.push({
      name: 'oncely + Redis',
      path: 'redis',
      op: (i) => redis.post(url('redis'), body('redis', i)),
    });
    // Another process replaying them: its own store instance and connection, nothing in its copies.
    const writer = ctx.oncelyAxios(await ctx.redisIdem({ namespace: 's2x', cacheRecords: 0 }));
    const other = ctx.oncelyAxios(await ctx.redisIdem({ namespace: 's2x', cacheRecords: 0 }));
    replayVariants.push({
      name: 'oncely + Redis, another process',
      path: 'redisx',
      write: (i) => writer.post(url('redisx'), body('redisx', i)),
      op: (i) => other.post(url('redisx'), body('redisx', i)),
    });
  } else s.notes.push('oncely + Redis: skipped, `@oncely/redis` has no `redisStore` yet.');
  const pt = powertoolsPost(await ctx.nodeRedis(), bareAxios(), { keyPrefix: `s2-${ctx.runId}` });
  replayVariants.push({
    name: 'Powertools + Redis',
    path: 'pt',
    op: (i) => pt({ url: url('pt'), body: body('pt', i) }),
  });
  const ptLocal = powertoolsPost(await ctx.nodeRedis(), bareAxios(), {
    keyPrefix: `s2l-${ctx.runId}`,
    localCache: true,
    maxLocalCacheSize: total + 10,
  });
  replayVariants.push({
    name: 'Powertools + Redis + local cache',
    path: 'ptl',
    op: (i) => ptLocal({ url: url('ptl'), body: body('ptl', i) }),
  });

  ctx.log(`s2: writing ${total} records per variant`);
  for (let i = 0; i < total; i++) for (const v of replayVariants) await (v.write ?? v.op)(i);
  const before = new Map<string, number>();
  for (const v of replayVariants) before.set(v.name, await ctx.server.count(`/s2/${v.path}`));

  const bare = bareAxios();
  const variants: Variant[] = [
    { name: 'bare axios (a new POST, for scale)', op: (i) => bare.post(url('bare'), body('bare', i)) },
    ...replayVariants,
  ];
  ctx.log(`s2: ${variants.length} variants × ${rounds} replays (+${warmup} warm-up)`);
  const samples = await interleaved(variants, rounds, warmup, ctx.failed('s2'));
  const leaked: string[] = [];
  for (const v of replayVariants) {
    const sent = (await ctx.server.count(`/s2/${v.path}`)) - (before.get(v.name) ?? 0);
    if (sent !== 0) leaked.push(`${v.name}: ${sent}`);
  }
  const stats = new Map([...samples].map(([name, xs]) => [name, summarise(xs)]));
  const pts = stats.get('Powertools + Redis')!;
  s.tables.push({
    header: ['variant', 'median ms', 'p99 ms', '× Powertools + Redis (median)'],
    rows: [...stats].map(([name, st]) => [
      name,
      fmtMs(st.median),
      fmtMs(st.p99),
      fmtRatio(st.median / pts.median),
    ]),
  });
  const rs = stats.get('oncely + Redis');
  const ratio = rs ? rs.median / pts.median : Number.NaN;
  s.notes.push(`**oncely+Redis replay ÷ Powertools replay = ${fmtRatio(ratio)}** (target ≤ 0.5×).`);
  const rx = stats.get('oncely + Redis, another process');
  const ratioOther = rx ? rx.median / pts.median : Number.NaN;
  s.notes.push(
    `"oncely + Redis" is the process that wrote the records: it answers from its copies of completed records ` +
      `(0 round trips; \`redisStore({ cache })\`, on by default, sized here like Powertools' local cache). ` +
      `"another process" replays records it never saw: one round trip each (a script that finds the completed ` +
      `record), ${fmtRatio(ratioOther)} of Powertools, which needs two (SET NX fails, then GET).`,
  );
  s.notes.push(
    leaked.length
      ? `WARNING: replays reached the server: ${leaked.join(', ')}.`
      : 'Checked: no replay reached the downstream server.',
  );
  s.targets.push({
    what: 'replay: oncely+Redis ÷ Powertools+Redis (median)',
    target: '≤ 0.5×',
    measured: `${fmtRatio(ratio)} (${fmtMs(rs?.median ?? Number.NaN)} vs ${fmtMs(pts.median)} ms)`,
    met: Number.isFinite(ratio) ? ratio <= 0.5 : undefined,
  });
  s.targets.push({
    what: 'replay from another process: oncely+Redis ÷ Powertools+Redis (median)',
    target: '≤ 0.5×',
    measured: `${fmtRatio(ratioOther)} (${fmtMs(rx?.median ?? Number.NaN)} vs ${fmtMs(pts.median)} ms)`,
    met: Number.isFinite(ratioOther) ? ratioOther <= 0.5 : undefined,
  });
  s.ratios.push(
    { label: 'replay: oncely+Redis / Powertools+Redis', value: ratio, target: 0.5, better: 'lower' },
    {
      label: 'replay: oncely+memory / Powertools local cache',
      value: stats.get('oncely + memory')!.median / stats.get('Powertools + Redis + local cache')!.median,
      better: 'lower',
    },
  );
  return s;
}
