import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { oncelyFetch } from '@oncely/undici';
import { Agent, fetch as undiciFetch } from 'undici';
import type { Context } from '../lib/context.js';
import { type Section, section } from '../lib/report.js';
import { fmtMs, summarise } from '../lib/stats.js';

const REST_MS = 30;

/**
 * 9. Time to the first event of a server-sent event stream (a streamed completion): bare undici
 * fetch vs the same fetch through oncely (memory store). The server sends one event at once and
 * the rest 30 ms later, so a stream buffered whole before the hand-over shows up as +30 ms.
 */
export async function sse(ctx: Context): Promise<Section> {
  const s = section('s9', '9. Event streams: time to the first event (POST, text/event-stream)');
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"delta":"first"}\n\n');
      setTimeout(() => res.end('data: {"delta":"rest"}\n\ndata: [DONE]\n\n'), REST_MS);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ctx.defer(() => new Promise((resolve) => server.close(resolve)));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;

  const agent = new Agent();
  ctx.defer(() => agent.close());
  const variants: Array<[string, typeof fetch]> = [
    [
      'bare undici fetch',
      ((u: string, i: RequestInit) => undiciFetch(u, { ...i, dispatcher: agent } as never)) as never,
    ],
    ['oncelyFetch (memory)', oncelyFetch(ctx.memoryIdem({ namespace: 's9' }))],
  ];
  const rounds = ctx.n(30, 150);
  const firsts = new Map<string, number[]>(variants.map(([name]) => [name, []]));
  for (let i = 0; i < rounds + 5; i++) {
    for (const [name, f] of variants) {
      const started = performance.now();
      const response = await f(url, { method: 'POST', body: JSON.stringify({ stream: true, i, name }) });
      const reader = response.body!.getReader();
      await reader.read();
      const first = performance.now() - started;
      while (!(await reader.read()).done) {}
      if (i >= 5) firsts.get(name)!.push(first);
    }
  }
  const stats = [...firsts].map(([name, xs]) => [name, summarise(xs)] as const);
  s.tables.push({
    header: ['variant', 'first event median ms', 'p99 ms'],
    rows: stats.map(([name, st]) => [name, fmtMs(st.median), fmtMs(st.p99)]),
  });
  const extra = stats[1]![1].median - stats[0]![1].median;
  s.notes.push(
    `**oncely adds ${fmtMs(extra)} ms to the first event** (target ≤ bare + 5 ms; the rest arrives ${REST_MS} ms later).`,
  );
  return s;
}
