import { Agent as HttpAgent } from 'node:http';
import got from 'got';
import { Agent, request } from 'undici';
import { makeBody } from '../lib/bodies.js';
import { bareAxios, coreAxios } from '../lib/clients.js';
import type { Context } from '../lib/context.js';
import { type Section, section } from '../lib/report.js';
import { fmtMs, fmtRatio, interleaved, summarise, type Variant } from '../lib/stats.js';
import { BODY_BYTES } from './s1-fresh.js';

/** 7. The three plugins on scenario 1 (memory store, so the plugin + core cost is what shows). */
export async function plugins(ctx: Context): Promise<Section> {
  const s = section('s7', '7. The three plugins on scenario 1 (fresh 1 KiB writes, memory store)');
  const rounds = ctx.n(200, 2000);
  const warmup = ctx.n(30, 300);
  const url = (v: string) => `${ctx.server.base}/s7/${v}`;
  const body = (v: string, i: number) => makeBody(`${ctx.runId}-s7-${v}-${i}`, BODY_BYTES);
  const pairs: Array<{ client: string; bare: Variant; guarded: Variant | undefined }> = [];

  const ax = bareAxios();
  const axGuarded = ctx.axiosPlugin
    ? ctx.axiosPlugin(bareAxios(), ctx.memoryIdem({ namespace: 's7a' }))
    : undefined;
  const axCore = coreAxios(bareAxios(), ctx.memoryIdem({ namespace: 's7c' }));
  pairs.push({
    client: 'axios',
    bare: { name: 'axios bare', op: (i) => ax.post(url('ax'), body('ax', i)) },
    guarded: axGuarded && {
      name: 'axios + @oncely/axios',
      op: (i) => axGuarded.post(url('axo'), body('axo', i)),
    },
  });

  const g = got.extend({
    agent: { http: new HttpAgent({ keepAlive: true, maxSockets: 16 }) },
    retry: { limit: 0 },
  });
  const gGuarded = ctx.gotPlugin ? g.extend(ctx.gotPlugin(ctx.memoryIdem({ namespace: 's7g' }))) : undefined;
  pairs.push({
    client: 'got',
    bare: { name: 'got bare', op: (i) => g.post(url('got'), { json: body('got', i) }).json() },
    guarded: gGuarded && {
      name: 'got + @oncely/got',
      op: (i) => gGuarded.post(url('goto'), { json: body('goto', i) }).json(),
    },
  });

  const plain = new Agent({ keepAliveTimeout: 60_000 });
  const guardedAgent = ctx.undiciPlugin
    ? new Agent({ keepAliveTimeout: 60_000 }).compose(ctx.undiciPlugin(ctx.memoryIdem({ namespace: 's7u' })))
    : undefined;
  const post = async (dispatcher: typeof plain | NonNullable<typeof guardedAgent>, u: string, b: unknown) => {
    const res = await request(u, {
      method: 'POST',
      body: JSON.stringify(b),
      headers: { 'content-type': 'application/json' },
      dispatcher,
    });
    return res.body.json();
  };
  pairs.push({
    client: 'undici',
    bare: { name: 'undici bare', op: (i) => post(plain, url('und'), body('und', i)) },
    guarded: guardedAgent && {
      name: 'undici + @oncely/undici',
      op: (i) => post(guardedAgent, url('undo'), body('undo', i)),
    },
  });

  const variants: Variant[] = [
    ...pairs.flatMap((p) => (p.guarded ? [p.bare, p.guarded] : [p.bare])),
    { name: 'axios + bench core-only adapter', op: (i) => axCore.post(url('axc'), body('axc', i)) },
  ];
  ctx.log(`s7: ${variants.length} variants × ${rounds} writes (+${warmup} warm-up)`);
  const samples = await interleaved(variants, rounds, warmup, ctx.failed('s7'));
  const stats = new Map([...samples].map(([name, xs]) => [name, summarise(xs)]));
  const rows: string[][] = [];
  for (const p of pairs) {
    const b = stats.get(p.bare.name);
    if (!b) continue; // filtered out (BENCH_VARIANTS)
    rows.push([p.bare.name, fmtMs(b.median), fmtMs(b.p99), '—', '—']);
    if (!p.guarded) {
      rows.push([`${p.client} + oncely`, 'not built yet', '', '', '']);
      continue;
    }
    const gs = stats.get(p.guarded.name);
    if (!gs) continue;
    rows.push([
      p.guarded.name,
      fmtMs(gs.median),
      fmtMs(gs.p99),
      fmtMs(gs.median - b.median),
      fmtRatio(gs.median / b.median),
    ]);
    s.ratios.push({
      label: `plugins: ${p.guarded.name} / ${p.bare.name}`,
      value: gs.median / b.median,
      better: 'lower',
    });
  }
  const core = stats.get('axios + bench core-only adapter');
  const axBare = stats.get('axios bare');
  if (core && axBare) {
    rows.push([
      'axios + bench core-only adapter',
      fmtMs(core.median),
      fmtMs(core.p99),
      fmtMs(core.median - axBare.median),
      fmtRatio(core.median / axBare.median),
    ]);
  }
  s.tables.push({
    header: ['variant', 'median ms', 'p99 ms', 'overhead vs own bare client (median) ms', '× own bare'],
    rows,
  });
  s.notes.push(
    'Each plugin is compared with its own bare client, all interleaved in one loop. The core-only adapter ' +
      "is the bench's 40-line axios adapter that calls `idem.execute` directly: the gap between it and " +
      '@oncely/axios is what the plugin itself adds.',
  );
  return s;
}
