import { HttpResponse, http } from 'msw';
import {
  type Emulator,
  type EmulatorOptions,
  emulatorOver,
  findByRef,
  instrument,
  type Written,
} from './emulator.js';
import type { WriteRequest } from './faults.js';
import { json, normaliseBase, parseBody, readBody, WRITE_METHODS } from './http.js';
import { statsRecorder } from './stats.js';

export interface PlainApiOptions extends EmulatorOptions {
  /**
   * A write whose client went away before it committed (during its latency, typically: over
   * `serve()`, a closed connection aborts `request.signal`) is rolled back: not committed, as a
   * transaction tied to the connection would be. `true` for every write, or a predicate for some
   * (e.g. one route). Default: it commits anyway, as most providers do.
   */
  rollBackAbandoned?: boolean | ((write: WriteRequest) => boolean) | undefined;
  /**
   * Other emulators the lookup searches too, after this one (by their resources' `ref`): one
   * provider whose search endpoint also sees the writes of its keyed API.
   */
  lookupAlso?: readonly Pick<Emulator, 'find'>[] | undefined;
}

/**
 * An API without native idempotency keys: every write creates `201 { id, ref, ...body }` (`ref` from
 * the body: the caller's external id). `GET <baseUrl>/lookup?ref=<ref>` answers the first resource
 * created with that ref, else `404 {"error":"not_found"}`: what a reconcile hook asks. Stats count
 * per `ref`, so `duplicates` is the number of refs created more than once.
 */
export function plainApi(options: PlainApiOptions): Emulator {
  const base = normaliseBase(options.baseUrl);
  const stats = statsRecorder();
  const { faults, emit, commit, answer } = instrument(options, stats);
  const rollBack = options.rollBackAbandoned ?? false;
  let written: Written[] = [];
  let counter = 0;

  async function write(request: Request, path: string) {
    const { text } = await readBody(request);
    const body = parseBody(text, request.headers.get('content-type'));
    const ref = typeof body.ref === 'string' ? body.ref : undefined;
    const incoming = { method: request.method, path, key: ref, body };
    emit({ type: 'started', write: incoming });
    if (faults.take('error5xxBeforeCommit', incoming)) {
      stats.count('errors5xx');
      return json(503, { error: 'unavailable' });
    }
    await faults.latency(incoming);
    if (request.signal.aborted && (rollBack === true || (rollBack !== false && rollBack(incoming)))) {
      stats.count('rolledBack');
      emit({ type: 'rolledBack', write: incoming });
      return HttpResponse.error();
    }
    const resource = { id: `res_${++counter}`, ref: body.ref, ...body };
    commit(written, incoming, resource);
    return answer(incoming, () => json(201, resource), { error: 'internal' });
  }

  function lookup(request: Request) {
    const ref = new URL(request.url).searchParams.get('ref') ?? '';
    let found = findByRef(written, ref);
    for (const other of options.lookupAlso ?? []) found ??= other.find(ref);
    emit({ type: 'lookup', ref, found: found !== undefined });
    return found ? json(200, found) : json(404, { error: 'not_found' });
  }

  const handlers = [
    http.get(`${base}/lookup`, ({ request }) => lookup(request)),
    http.all(`${base}/*`, async ({ request }) => {
      if (WRITE_METHODS.has(request.method)) return write(request, new URL(request.url).pathname);
      return json(404, { error: 'no_route' });
    }),
  ];

  return emulatorOver(handlers, { stats, faults, written: () => written }, () => {
    written = [];
    counter = 0;
  });
}
