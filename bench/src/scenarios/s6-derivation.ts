import { canonicalBody, createIdempotency, memoryStore, type Send } from '@oncely/core';
import { makeJsonText } from '../lib/bodies.js';
import type { Context } from '../lib/context.js';
import { type Section, section } from '../lib/report.js';
import { fmtNum, percentile } from '../lib/stats.js';

const SIZES: Array<[string, number]> = [
  ['100 B', 100],
  ['1 KiB', 1024],
  ['64 KiB', 64 * 1024],
  ['1 MiB', 1024 * 1024],
];

/** Median µs per call of `fn`, timed in batches until `budgetMs` is spent. */
function timeIt(fn: (i: number) => unknown, budgetMs: number): number {
  let batch = 1;
  // calibrate a batch of ~2 ms
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < batch; i++) fn(i);
    const ms = performance.now() - start;
    if (ms >= 2 || batch >= 1 << 16) break;
    batch *= 2;
  }
  const perCall: number[] = [];
  const end = performance.now() + budgetMs;
  let i = 0;
  while (performance.now() < end || perCall.length < 5) {
    const start = performance.now();
    for (let j = 0; j < batch; j++) fn(i++);
    perCall.push(((performance.now() - start) * 1000) / batch);
  }
  return percentile(
    perCall.sort((a, b) => a - b),
    50,
  );
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
}

/** 6. Key derivation cost by body size; memory per 100k in-flight records. */
export async function derivation(ctx: Context): Promise<Section[]> {
  const s = section('s6', '6. Key derivation cost (`idem.keyFor`, JSON bodies)');
  const budget = ctx.n(300, 1500);
  const idem = ctx.memoryIdem({ namespace: 's6' });
  const rows: string[][] = [];
  let oneKiB = Number.NaN;
  for (const [label, bytes] of SIZES) {
    // a few distinct bodies so no cache can help; same size each
    const texts = Array.from({ length: 8 }, (_, k) => makeJsonText(`${ctx.runId}-s6-${k}`, bytes));
    const size = Buffer.byteLength(texts[0]!);
    const request = (i: number) => ({
      method: 'POST',
      url: 'https://api.example.com/v1/orders?expand=items',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk_test_123' },
      body: texts[i % texts.length]!,
    });
    const keyFor = timeIt((i) => idem.keyFor(request(i)), budget);
    const canonical = timeIt(
      (i) => canonicalBody(texts[i % texts.length]!, 'application/json', 8 << 20),
      budget,
    );
    if (bytes === 1024) oneKiB = keyFor;
    rows.push([
      label,
      fmtNum(size),
      fmtNum(keyFor, 2),
      fmtNum(size / keyFor, 0),
      fmtNum(canonical, 2),
      fmtNum(size / canonical, 0),
    ]);
  }
  ctx.log('s6: key derivation timed');
  s.tables.push({
    header: ['body', 'bytes', 'keyFor µs', 'keyFor MB/s', 'canonicalBody µs', 'canonicalBody MB/s'],
    rows,
  });
  s.notes.push(
    `keyFor = the whole derivation a write pays (target normalisation, headers, canonical JSON, SHA-256 of ` +
      `key and fingerprint); canonicalBody = the JSON parse + sorted re-serialisation alone. Median of ~2 ms ` +
      `batches, ${budget} ms per size. **1 KiB: ${fmtNum(oneKiB, 2)} µs** (target ≤ 10 µs).`,
  );
  s.ratios.push({
    label: 'key derivation 1 KiB / 10 µs target',
    value: oneKiB / 10,
    target: 1,
    better: 'lower',
  });

  const m = section('s6m', '6b. Memory per 100k in-flight records (memory store)');
  const hasGc = typeof (globalThis as { gc?: unknown }).gc === 'function';
  const memRows: string[][] = [];
  {
    const store = memoryStore();
    gc();
    const before = process.memoryUsage().heapUsed;
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const hex = i.toString(16).padStart(64, '0');
      await store.reserve({
        key: `oncely:${hex}`,
        scope: hex,
        fingerprint: hex,
        method: 'POST',
        target: `https://api.example.com/v1/orders/${i}`,
        owner: '7b0d4d7e-3f0e-4b8e-9a37-5c1f64e3f9a1',
        leaseMs: 60_000,
        ttlMs: 86_400_000,
      });
    }
    gc();
    const after = process.memoryUsage().heapUsed;
    memRows.push([
      'store.reserve only',
      fmtNum(n),
      fmtNum((after - before) / 2 ** 20, 1),
      fmtNum((after - before) / n, 0),
    ]);
    if (store.size !== n) throw new Error(`expected ${n} records, got ${store.size}`);
    store.close();
  }
  {
    // Whole engine: n execute() calls whose send() never answers until released.
    const n = ctx.n(20_000, 100_000);
    const store = memoryStore();
    const engine = createIdempotency({ store, namespace: 's6e' });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const send: Send = async () => {
      await gate;
      return { status: 200, headers: {}, body: new Uint8Array() };
    };
    gc();
    const before = process.memoryUsage().heapUsed;
    const pending: Array<Promise<unknown>> = [];
    for (let i = 0; i < n; i++) {
      pending.push(
        engine.execute(
          {
            method: 'POST',
            url: `https://api.example.com/v1/orders/${i}`,
            headers: { 'content-type': 'application/json' },
            body: `{"ref":"${ctx.runId}-${i}","amount":4200,"currency":"eur"}`,
          },
          send,
        ),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    gc();
    const after = process.memoryUsage().heapUsed;
    release();
    await Promise.all(pending);
    engine.close();
    store.close();
    memRows.push([
      'engine: execute() calls in flight (record, in-flight map, lease timer, promises)',
      fmtNum(n),
      fmtNum(((after - before) / 2 ** 20) * (100_000 / n), 1),
      fmtNum((after - before) / n, 0),
    ]);
  }
  m.tables.push({ header: ['what', 'measured with', 'MiB per 100k', 'bytes per record'], rows: memRows });
  m.notes.push(
    `Heap used after a full GC, before and after${hasGc ? '' : ' (WARNING: no --expose-gc, figures are rough)'}; ` +
      'engine figures are scaled to 100k when fewer were measured (--quick).',
  );
  ctx.log('s6: memory measured');
  return [s, m];
}
