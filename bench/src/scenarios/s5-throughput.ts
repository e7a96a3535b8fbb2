import { makeBody } from '../lib/bodies.js';
import { bareAxios } from '../lib/clients.js';
import type { Context } from '../lib/context.js';
import { type Section, section } from '../lib/report.js';
import { fmtNum, fmtRatio, pool, selected } from '../lib/stats.js';
import { BODY_BYTES } from './s1-fresh.js';

const IN_FLIGHT = 256;

/** 5. Throughput at 256 in flight, distinct keys: oncely+Redis (auto-pipelining on/off) vs bare. */
export async function throughput(ctx: Context): Promise<Section> {
  const s = section('s5', `5. Throughput at ${IN_FLIGHT} writes in flight (distinct keys)`);
  const ops = ctx.n(768, 4000);
  const repeats = ctx.n(2, 3);
  const variants: Array<{ name: string; post: (url: string, body: unknown) => Promise<unknown> }> = [];
  const bare = bareAxios(IN_FLIGHT);
  variants.push({ name: 'bare axios', post: (u, b) => bare.post(u, b) });
  if (ctx.redisStore) {
    const off = ctx.oncelyAxios(
      await ctx.redisIdem({ namespace: 's5off', autoPipelining: false }),
      IN_FLIGHT,
    );
    const on = ctx.oncelyAxios(await ctx.redisIdem({ namespace: 's5on', autoPipelining: true }), IN_FLIGHT);
    variants.push({ name: 'oncely + Redis, auto-pipelining off', post: (u, b) => off.post(u, b) });
    variants.push({ name: 'oncely + Redis, auto-pipelining on', post: (u, b) => on.post(u, b) });
  } else s.notes.push('oncely + Redis: skipped, `@oncely/redis` has no `redisStore` yet.');
  const memory = ctx.oncelyAxios(ctx.memoryIdem({ namespace: 's5m' }), IN_FLIGHT);
  variants.push({ name: 'oncely + memory', post: (u, b) => memory.post(u, b) });

  const chosen = variants.filter((v) => selected(v.name));
  variants.splice(0, variants.length, ...chosen);
  const rates = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  let batch = 0;
  const runOnce = async (v: (typeof variants)[number], n: number, record: boolean) => {
    const tag = `${ctx.runId}-${batch++}`;
    const url = `${ctx.server.base}/s5/${tag}`;
    const fail = ctx.failed('s5');
    const ms = await pool(
      n,
      IN_FLIGHT,
      (i) => v.post(url, makeBody(`${tag}-${i}`, BODY_BYTES)),
      (error) => fail(v.name, error),
    );
    if (record) rates.get(v.name)!.push((n / ms) * 1000);
  };
  for (const v of variants) await runOnce(v, ctx.n(IN_FLIGHT, IN_FLIGHT * 4), false); // warm-up: sockets, JIT
  for (let r = 0; r < repeats; r++) {
    for (let j = 0; j < variants.length; j++) await runOnce(variants[(r + j) % variants.length]!, ops, true);
  }
  ctx.log(`s5: ${variants.length} variants × ${repeats} runs of ${ops} writes`);

  const median = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = sorted.length / 2;
    return sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  const bareRate = median(rates.get('bare axios') ?? []);
  s.tables.push({
    header: ['variant', 'writes/s (median of runs)', 'runs', '× bare'],
    rows: [...rates].map(([name, xs]) => [
      name,
      fmtNum(median(xs)),
      xs.map((x) => fmtNum(x)).join(' / '),
      fmtRatio(median(xs) / bareRate),
    ]),
  });
  s.notes.push(
    `${ops} writes per run (1 KiB JSON, each a distinct key), ${IN_FLIGHT} in flight, runs interleaved; ` +
      'each variant has its own keep-alive agent (256 sockets). Target: oncely+Redis ≥ 0.9× bare.',
  );
  for (const name of ['oncely + Redis, auto-pipelining off', 'oncely + Redis, auto-pipelining on']) {
    const xs = rates.get(name);
    const ratio = xs ? median(xs) / bareRate : Number.NaN;
    s.targets.push({
      what: `throughput at ${IN_FLIGHT} in flight, ${name} ÷ bare`,
      target: '≥ 0.9×',
      measured: `${fmtRatio(ratio)} (${fmtNum(xs ? median(xs) : Number.NaN)} vs ${fmtNum(bareRate)} writes/s)`,
      met: Number.isFinite(ratio) ? ratio >= 0.9 : undefined,
    });
    s.ratios.push({
      label: `throughput: ${name.replace('oncely + Redis, ', 'Redis, ')} / bare`,
      value: xs ? median(xs) / bareRate : Number.NaN,
      target: 0.9,
      better: 'higher',
    });
  }
  return s;
}
