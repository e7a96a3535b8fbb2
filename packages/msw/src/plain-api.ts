import { HttpResponse, http } from 'msw';
import type { Emulator, Written } from './emulator.js';
import { type FaultRates, faultPlan } from './faults.js';
import { json, normaliseBase, parseBody, readBody, WRITE_METHODS } from './http.js';
import { statsRecorder } from './stats.js';

export interface PlainApiOptions {
  /** e.g. `'https://tickets.example.com/api'`; every path under it is emulated. */
  baseUrl: string;
  faults?: FaultRates | undefined;
  /** Source of randomness for fault rates (default `Math.random`). */
  random?: (() => number) | undefined;
}

/**
 * An API without native idempotency keys: every write creates `201 { id, ref, ...body }` (`ref` from
 * the body: the caller's external id). `GET <baseUrl>/lookup?ref=<ref>` answers the first resource
 * created with that ref, else `404 {"error":"not_found"}`: what a reconcile hook asks. Stats count
 * per `ref`, so `duplicates` is the number of refs created more than once.
 */
export function plainApi(options: PlainApiOptions): Emulator {
  const base = normaliseBase(options.baseUrl);
  const faults = faultPlan(options.faults, options.random);
  const stats = statsRecorder();
  let written: Written[] = [];
  let counter = 0;

  async function write(request: Request, path: string) {
    const { text } = await readBody(request);
    const body = parseBody(text, request.headers.get('content-type'));
    const ref = typeof body.ref === 'string' ? body.ref : undefined;
    const incoming = { method: request.method, path, key: ref, body };
    if (faults.take('error5xxBeforeCommit', incoming)) {
      stats.count('errors5xx');
      return json(503, { error: 'unavailable' });
    }
    await faults.latency(incoming);
    const resource = { id: `res_${++counter}`, ref: body.ref, ...body };
    written.push({ path, key: ref, resource });
    stats.count('writes', ref);
    if (faults.take('dropAfterCommit', incoming)) {
      stats.count('dropped');
      return HttpResponse.error();
    }
    if (faults.take('error5xxAfterCommit', incoming)) {
      stats.count('errors5xx');
      return json(500, { error: 'internal' });
    }
    return json(201, resource);
  }

  function lookup(request: Request) {
    const ref = new URL(request.url).searchParams.get('ref');
    const found = written.find((w) => w.resource.ref === ref);
    return found ? json(200, found.resource) : json(404, { error: 'not_found' });
  }

  const handlers = [
    http.get(`${base}/lookup`, ({ request }) => lookup(request)),
    http.all(`${base}/*`, async ({ request }) => {
      if (WRITE_METHODS.has(request.method)) return write(request, new URL(request.url).pathname);
      return json(404, { error: 'no_route' });
    }),
  ];

  return {
    handlers,
    stats: () => stats.snapshot(),
    written: () => written.map((w) => ({ ...w, resource: { ...w.resource } })),
    inject: (counts) => faults.inject(counts),
    reset() {
      written = [];
      counter = 0;
      stats.reset();
      faults.reset();
    },
  };
}
