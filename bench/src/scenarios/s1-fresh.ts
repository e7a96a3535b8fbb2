import { makeBody } from '../lib/bodies.js';
import { bareAxios, powertoolsPost } from '../lib/clients.js';
import type { Context } from '../lib/context.js';
import { type Ratio, type Section, section } from '../lib/report.js';
import { fmtMs, fmtRatio, interleaved, summarise, type Variant } from '../lib/stats.js';

export const BODY_BYTES = 1024;

/** 1. Sequential fresh writes, 1 KiB JSON body: bare axios, oncely+memory, oncely+Redis, Powertools+Redis. */
export async function freshWrites(ctx: Context): Promise<Section> {
  const s = section('s1', '1. Sequential fresh writes (1 KiB JSON body)');
  const rounds = ctx.n(200, 2000);
  const warmup = ctx.n(30, 300);
  const url = (variant: string) => `${ctx.server.base}/s1/${variant}`;
  const body = (variant: string, i: number) => makeBody(`${ctx.runId}-s1-${variant}-${i}`, BODY_BYTES);

  const bare = bareAxios();
  const memory = ctx.oncelyAxios(ctx.memoryIdem({ namespace: 's1m' }));
  const variants: Variant[] = [
    { name: 'bare axios', op: (i) => bare.post(url('bare'), body('bare', i)) },
    { name: 'oncely + memory', op: (i) => memory.post(url('mem'), body('mem', i)) },
  ];
  if (ctx.redisStore) {
    const redis = ctx.oncelyAxios(await ctx.redisIdem({ namespace: 's1r' }));
    variants.push({ name: 'oncely + Redis', op: (i) => redis.post(url('redis'), body('redis', i)) });
    // The outcome recorded after the response is handed back (core `record: 'after-return'`, DESIGN §3).
    const after = ctx.oncelyAxios(await ctx.redisIdem({ namespace: 's1a', record: 'after-return' }));
    variants.push({
      name: 'oncely + Redis, record after return',
      op: (i) => after.post(url('after'), body('after', i)),
    });
  } else s.notes.push('oncely + Redis: skipped, `@oncely/redis` has no `redisStore` yet.');
  const pt = powertoolsPost(await ctx.nodeRedis(), bareAxios(), { keyPrefix: `s1-${ctx.runId}` });
  variants.push({ name: 'Powertools + Redis', op: (i) => pt({ url: url('pt'), body: body('pt', i) }) });

  ctx.log(`s1: ${variants.length} variants × ${rounds} writes (+${warmup} warm-up)`);
  const samples = await interleaved(variants, rounds, warmup, ctx.failed('s1'));
  const stats = new Map([...samples].map(([name, xs]) => [name, summarise(xs)]));
  const base = stats.get('bare axios')!;
  s.tables.push({
    header: ['variant', 'median ms', 'p99 ms', 'overhead vs bare (median) ms', 'overhead p99 ms', '× bare'],
    rows: [...stats].map(([name, st]) => [
      name,
      fmtMs(st.median),
      fmtMs(st.p99),
      name === 'bare axios' ? '—' : fmtMs(st.median - base.median),
      name === 'bare axios' ? '—' : fmtMs(st.p99 - base.p99),
      fmtRatio(st.median / base.median),
    ]),
  });
  const med = (name: string) => stats.get(name)?.median ?? Number.NaN;
  const pto = med('Powertools + Redis') - base.median;
  const onceRedisOverhead = med('oncely + Redis') - base.median;
  const onceMemOverhead = med('oncely + memory') - base.median;
  const afterOverhead = med('oncely + Redis, record after return') - base.median;
  s.notes.push(
    `**oncely+Redis overhead ÷ Powertools overhead = ${fmtRatio(onceRedisOverhead / pto)}** ` +
      `(${fmtMs(onceRedisOverhead)} ms vs ${fmtMs(pto)} ms per write; target ≤ 0.5×). ` +
      `oncely+memory overhead: ${fmtMs(onceMemOverhead)} ms. With \`record: 'after-return'\` (one round ` +
      `trip before the response is handed back): ${fmtRatio(afterOverhead / pto)} (${fmtMs(afterOverhead)} ms).`,
  );
  s.notes.push(`${rounds} timed writes per variant; axios through ${ctx.axiosVia}.`);
  s.notes.push(
    'Both libraries make two Redis round trips per fresh write (scenario 3). On loopback a round trip is ' +
      "cheap, so what separates them is CPU: the server time of oncely's Lua scripts against two plain SETs " +
      "(scenario 3, redis-server µs) and oncely's client-side work (scenario 6, engine alone). Scenario 8 " +
      'repeats the comparison with a network-like round trip.',
  );
  const ratios: Ratio[] = [
    {
      label: 'fresh: oncely+Redis overhead / Powertools',
      value: onceRedisOverhead / pto,
      target: 0.5,
      better: 'lower',
    },
    {
      label: 'fresh: oncely+Redis after-return overhead / Powertools',
      value: afterOverhead / pto,
      target: 0.5,
      better: 'lower',
    },
    {
      label: 'fresh: oncely+memory / bare (latency)',
      value: med('oncely + memory') / base.median,
      better: 'lower',
    },
    {
      label: 'fresh: oncely+Redis / bare (latency)',
      value: med('oncely + Redis') / base.median,
      better: 'lower',
    },
    {
      label: 'fresh: Powertools+Redis / bare (latency)',
      value: med('Powertools + Redis') / base.median,
      better: 'lower',
    },
  ];
  s.ratios = ratios;
  const r = onceRedisOverhead / pto;
  s.targets.push({
    what: 'fresh write: oncely+Redis overhead ÷ Powertools overhead',
    target: '≤ 0.5×',
    measured: `${fmtRatio(r)} (${fmtMs(onceRedisOverhead)} vs ${fmtMs(pto)} ms)`,
    met: Number.isFinite(r) ? r <= 0.5 : undefined,
  });
  const ra = afterOverhead / pto;
  s.targets.push({
    what: "fresh write, record: 'after-return': oncely+Redis overhead ÷ Powertools overhead",
    target: '≤ 0.5×',
    measured: `${fmtRatio(ra)} (${fmtMs(afterOverhead)} vs ${fmtMs(pto)} ms)`,
    met: Number.isFinite(ra) ? ra <= 0.5 : undefined,
  });
  return s;
}
