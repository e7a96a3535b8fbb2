// The chaos suite's fake provider, as its own process: the `@oncely/msw` emulators (built package)
// served on a free loopback port. `/native/*` is `stripeLike` (a key required, the key looked up
// before the 503 is drawn), `/plain/*` is `plainApi` (`GET /plain/lookup?ref=` also finds native
// writes; a `/plain/rec/` write whose client died before it committed is rolled back unless
// `lateCommits`). Faults are msw's rates, all drawn from one seeded RNG (off for the final pass).
//
// What stays here is the chaos harness's own bookkeeping: writes per logical operation
// (`body.ref`) and the SHA-256 of each one's original answer, requests arriving in the "store
// down" window while the supervisor has Redis stopped, a per-ref history for traces, and the
// `/__stats`, `/__faults`, `/__window` admin routes.
//
// Started by run.mjs with `fork`; the config comes in argv[2] (JSON); it answers `{ port }` over IPC.
import { createHash } from 'node:crypto';
import { plainApi, serve, stripeLike } from '@oncely/msw';
import { HttpResponse, http } from 'msw';
import { rng } from './ops.mjs';

/**
 * @typedef {{ drop: number, error5xx: number, error503: number, spike: number }} FaultRates
 * @typedef {{ seed: number, faults: FaultRates, spikeMs: number, lateCommits: boolean }} ProviderConfig
 */

/** @type {ProviderConfig} */
const config = JSON.parse(process.argv[2] ?? '{}');
const seeded = rng(config.seed ^ 0x5eed);
let faultsOn = true;
/** Faults off: a draw of 1 never falls under a rate (and the seeded sequence is not consumed). */
const random = () => (faultsOn ? seeded() : 1);

/** The chaos names of msw's faults (what the supervisor reports and the test checks). */
const FAULT_NAMES = /** @type {const} */ ({
  dropAfterCommit: 'drop',
  error5xxAfterCommit: 'error5xx',
  error5xxBeforeCommit: 'error503',
  latencySpike: 'spike',
});

const window = { open: false, opened: 0, posts: 0, executed: 0, refs: /** @type {string[]} */ ([]) };
const counts = { posts: 0, lookups: 0 };

/** What happened to each ref's requests, for the supervisor to explain a violation. @type {Map<string, string[]>} */
const history = new Map();
/** @param {string} ref @param {string} what */
function note(ref, what) {
  const list = history.get(ref) ?? [];
  list.push(`${Date.now()} ${what}`);
  history.set(ref, list);
}
/** @param {{ body: Record<string, unknown> }} write */
const refOf = (write) => String(write.body.ref);

/** @param {import('@oncely/msw').EmulatorEvent} event */
function onEvent(event) {
  if (event.type === 'lookup') return note(event.ref, `lookup ${event.found ? 200 : 404}`);
  const ref = refOf(event.write);
  if (event.type === 'started') {
    // A POST that arrived while the store was down and is about to act (not a 409 or a replay).
    if (window.open) {
      window.executed++;
      if (window.refs.length < 20) window.refs.push(ref);
    }
  } else if (event.type === 'fault') note(ref, `fault ${event.fault}`);
  else if (event.type === 'committed') note(ref, `commit ${JSON.stringify(event.resource).slice(0, 40)}`);
  else if (event.type === 'rolledBack') note(ref, 'client gone before the commit (spike): rolled back');
}

const ORIGIN = 'http://provider.local';
const rates = {
  dropAfterCommit: config.faults.drop,
  error5xxAfterCommit: config.faults.error5xx,
  error5xxBeforeCommit: config.faults.error503,
  latencySpike: { rate: config.faults.spike, ms: config.spikeMs },
};
const native = stripeLike({
  baseUrl: `${ORIGIN}/native`,
  faults: rates,
  random,
  onEvent,
  requireKey: true,
  keyCheckFirst: true,
});
const plain = plainApi({
  baseUrl: `${ORIGIN}/plain`,
  faults: rates,
  random,
  onEvent,
  lookupAlso: [native],
  // A client that died during the spike: on the reconciled route the write is rolled back (like a
  // transaction tied to the connection) unless `lateCommits` is on. Committing it would be the
  // limitation of lookup reconciliation described in README.md (a dead owner's request still
  // running at the provider after its lease expired: a lookup says "absent", too early).
  rollBackAbandoned: config.lateCommits ? false : (write) => write.path.startsWith('/plain/rec/'),
});

/** @param {unknown} value */
const ok = (value) => HttpResponse.json(/** @type {Record<string, unknown>} */ (value));

function stats(/** @type {URL} */ url) {
  /** @type {Record<string, { writes: number, sha: string }>} */
  const perRef = {};
  for (const { resource } of [...native.written(), ...plain.written()]) {
    const ref = String(resource.ref);
    const seen = perRef[ref];
    if (seen) seen.writes++;
    else
      perRef[ref] = { writes: 1, sha: createHash('sha256').update(JSON.stringify(resource)).digest('hex') };
  }
  const n = native.stats();
  const p = plain.stats();
  /** @type {Record<string, number>} */
  const injected = {};
  for (const [fault, name] of Object.entries(FAULT_NAMES)) {
    const kind = /** @type {keyof typeof FAULT_NAMES} */ (fault);
    injected[name] = n.faults[kind] + p.faults[kind];
  }
  /** @type {Record<string, string[]>} */
  const explain = {};
  for (const ref of url.searchParams.getAll('explain')) explain[ref] = history.get(ref) ?? [];
  return {
    perRef,
    injected,
    counts: {
      ...counts,
      inUse: n.inUse,
      providerReplays: n.replays,
      mismatches: n.mismatches,
      rolledBack: p.rolledBack,
    },
    window,
    explain,
  };
}

const admin = [
  http.get(`${ORIGIN}/__stats`, ({ request }) => ok(stats(new URL(request.url)))),
  http.post(`${ORIGIN}/__faults`, async ({ request }) => {
    faultsOn = /** @type {{ enabled?: unknown }} */ (await request.json()).enabled === true;
    return ok({});
  }),
  http.post(`${ORIGIN}/__window`, async ({ request }) => {
    window.open = /** @type {{ open?: unknown }} */ (await request.json()).open === true;
    if (window.open) window.opened++;
    return ok({});
  }),
];
const noRoute = http.all('*', () => HttpResponse.json({ error: 'no_route' }, { status: 404 }));

const served = await serve([...admin, ...native.handlers, ...plain.handlers, noRoute], {
  origin: ORIGIN,
  keepAliveTimeoutMs: 60_000,
  onRequest(request) {
    if (request.path.startsWith('/__')) return;
    if (request.method === 'GET' && request.path.startsWith('/plain/lookup')) {
      counts.lookups++;
      return;
    }
    if (request.method !== 'POST') return;
    counts.posts++;
    if (window.open) window.posts++;
    const ref = String(JSON.parse(request.body.toString('utf8') || '{}').ref);
    note(ref, `arrive ${request.path} key=${request.headers['idempotency-key'] ?? '-'}`);
  },
});
process.send?.({ port: Number(new URL(served.url).port) });
// The supervisor owns this process: when it goes, so do we.
process.on('disconnect', () => process.exit(0));
