import { makeBody } from '../lib/bodies.js';
import { bareAxios, powertoolsPost } from '../lib/clients.js';
import type { Context } from '../lib/context.js';
import { latencyProxy } from '../lib/latency-proxy.js';
import { type Section, section } from '../lib/report.js';
import { fmtMs, fmtRatio, interleaved, summarise, type Variant } from '../lib/stats.js';
import { BODY_BYTES } from './s1-fresh.js';

const ONE_WAY_MS = 1;

/**
 * 8. Scenarios 1 and 2 again with Redis behind a delaying proxy (~2 ms more per round trip), as
 * over a network: on loopback a round trip is nearly free, so CPU decides; here round trips do.
 */
export async function network(ctx: Context): Promise<Section> {
  const s = section(
    's8',
    `8. Redis over a network: scenarios 1 and 2 with ~${2 * ONE_WAY_MS} ms added per round trip`,
  );
  if (!ctx.redisStore) {
    s.notes.push('Skipped: `@oncely/redis` has no `redisStore` yet.');
    return s;
  }
  const proxy = await latencyProxy(ctx.redis.port, ONE_WAY_MS);
  ctx.defer(() => proxy.close());
  const rounds = ctx.n(40, 200);
  const warmup = ctx.n(10, 30);
  const url = (v: string) => `${ctx.server.base}/s8/${v}`;
  const body = (v: string, i: number) => makeBody(`${ctx.runId}-s8-${v}-${i}`, BODY_BYTES);

  const bare = bareAxios();
  const oncely = ctx.oncelyAxios(await ctx.redisIdem({ namespace: 's8', port: proxy.port }));
  const pt = powertoolsPost(await ctx.nodeRedis(proxy.port), bareAxios(), { keyPrefix: `s8-${ctx.runId}` });
  // Only the two Redis variants are interleaved here: interleaving the bare client between them
  // made both slower through the proxy (its 1 ms timers), so the bare figure comes from its own block.
  const bareSamples = await interleaved(
    [{ name: 'bare axios (own block)', op: (i) => bare.post(url('bare'), body('bare', i)) }],
    rounds,
    warmup,
    ctx.failed('s8'),
  );
  const fresh: Variant[] = [
    { name: 'oncely + Redis, fresh', op: (i) => oncely.post(url('o'), body('o', i)) },
    { name: 'Powertools + Redis, fresh', op: (i) => pt({ url: url('pt'), body: body('pt', i) }) },
  ];
  ctx.log(`s8: ${fresh.length} variants × ${rounds} fresh writes through the latency proxy`);
  const freshSamples = await interleaved(fresh, rounds, warmup, ctx.failed('s8'));
  // the same payloads again: every one is now a replay
  const replay: Variant[] = [
    { name: 'oncely + Redis, replay', op: (i) => oncely.post(url('o'), body('o', i)) },
    { name: 'Powertools + Redis, replay', op: (i) => pt({ url: url('pt'), body: body('pt', i) }) },
  ];
  const replaySamples = await interleaved(replay, rounds, warmup, ctx.failed('s8'));
  const stats = new Map(
    [...bareSamples, ...freshSamples, ...replaySamples].map(([name, xs]) => [name, summarise(xs)]),
  );
  const med = (name: string) => stats.get(name)?.median ?? Number.NaN;
  const base = med('bare axios (own block)');
  s.tables.push({
    header: ['variant', 'median ms', 'p99 ms', 'overhead vs bare (median) ms'],
    rows: [...stats].map(([name, st]) => [
      name,
      fmtMs(st.median),
      fmtMs(st.p99),
      name.startsWith('bare') ? '—' : fmtMs(st.median - base),
    ]),
  });
  const freshRatio = (med('oncely + Redis, fresh') - base) / (med('Powertools + Redis, fresh') - base);
  const freshLatency = med('oncely + Redis, fresh') / med('Powertools + Redis, fresh');
  const replayRatio = med('oncely + Redis, replay') / med('Powertools + Redis, replay');
  s.notes.push(
    `Fresh write: oncely overhead ÷ Powertools overhead = **${fmtRatio(freshRatio)}** (latency ÷ latency ` +
      `${fmtRatio(freshLatency)}); replay: oncely ÷ ` +
      `Powertools = **${fmtRatio(replayRatio)}**. The proxy holds each chunk ${ONE_WAY_MS} ms each way ` +
      '(Node timers: 1 ms granularity), so every Redis round trip costs ≥ 2 ms more; the HTTP server is not behind it. ' +
      'oncely and Powertools are interleaved with each other; the bare client ran in its own block before them.',
  );
  s.ratios.push(
    {
      label: 'network: fresh, oncely overhead / Powertools',
      value: freshRatio,
      target: 0.5,
      better: 'lower',
    },
    { label: 'network: replay, oncely / Powertools', value: replayRatio, target: 0.5, better: 'lower' },
  );
  return s;
}
