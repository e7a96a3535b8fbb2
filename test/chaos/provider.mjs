// The chaos suite's fake provider, as its own process (node:http on a free loopback port).
// Same API semantics as test/support/fake-server.ts (Stripe-like `/native/*`, plain `/plain/*` with
// `GET /plain/lookup?ref=`), plus what the chaos supervisor needs: writes counted per logical
// operation (`body.ref`), the original response body of each operation kept for byte comparison,
// random faults drawn from a seeded RNG, and a "store down" window that counts requests arriving
// while the supervisor has Redis stopped.
//
// Started by run.mjs with `fork`; the config comes in argv[2] (JSON); it answers `{ port }` over IPC.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { rng } from './ops.mjs';

/**
 * @typedef {{ drop: number, error5xx: number, error503: number, spike: number }} FaultRates
 * @typedef {{ seed: number, faults: FaultRates, spikeMs: number, lateCommits: boolean }} ProviderConfig
 */

/** @type {ProviderConfig} */
const config = JSON.parse(process.argv[2] ?? '{}');
const random = rng(config.seed ^ 0x5eed);
let faultsOn = true;

/** Committed writes per logical operation (ref). @type {Map<string, number>} */
const writes = new Map();
/** The body bytes answered by the first committed write of each ref (what every replay must equal). @type {Map<string, string>} */
const originals = new Map();
/** Stripe-like keys: signature + saved response. @type {Map<string, { signature: string, saved?: string }>} */
const keys = new Map();
const injected = { drop: 0, error5xx: 0, error503: 0, spike: 0 };
const counts = { posts: 0, lookups: 0, inUse: 0, providerReplays: 0, mismatches: 0, rolledBack: 0 };
const window = { open: false, opened: 0, posts: 0, executed: 0, refs: /** @type {string[]} */ ([]) };
let counter = 0;

const KEY_IN_USE = {
  error: {
    code: 'idempotency_key_in_use',
    type: 'idempotency_error',
    message: 'There is currently another in-progress request using this Idempotent Key.',
  },
};
const KEY_MISMATCH = {
  error: {
    type: 'idempotency_error',
    message:
      'Keys for idempotent requests can only be used with the same parameters they were first used with.',
  },
};

/** What happened to each ref's requests, for the supervisor to explain a violation. @type {Map<string, string[]>} */
const history = new Map();
/** @param {string} ref @param {string} what */
function note(ref, what) {
  const list = history.get(ref) ?? [];
  list.push(`${Date.now()} ${what}`);
  history.set(ref, list);
}
let current = '';

/** @param {keyof FaultRates} kind */
function fault(kind) {
  if (!faultsOn) return false;
  if (random() >= config.faults[kind]) return false;
  injected[kind]++;
  note(current, `fault ${kind}`);
  return true;
}

/** @param {string} ref @param {string} text */
function commit(ref, text) {
  current = ref;
  note(ref, `commit ${text.slice(0, 40)}`);
  writes.set(ref, (writes.get(ref) ?? 0) + 1);
  if (!originals.has(ref)) originals.set(ref, text);
}

/** @param {import('node:http').ServerResponse} res @param {number} status @param {string} text @param {Record<string, string>} [headers] */
function send(res, status, text, headers = {}) {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Answer of a committed write, unless a fault eats it. @param {import('node:http').ServerResponse} res @param {number} status @param {string} text @param {Record<string, string>} [headers] */
function answerAfterCommit(res, status, text, headers) {
  if (fault('drop')) return void res.socket?.destroy();
  if (fault('error5xx')) return send(res, 500, JSON.stringify({ error: 'internal' }));
  send(res, status, text, headers);
}

/** Marks a POST that arrived while the store was down and is about to act (not a 409/replay). @param {string} ref */
function actingInWindow(ref) {
  if (!window.open) return;
  window.executed++;
  if (window.refs.length < 20) window.refs.push(ref);
}

/** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res @param {Buffer} body */
async function handle(req, res, body) {
  const url = new URL(req.url ?? '/', 'http://provider.local');
  const path = url.pathname;
  if (path.startsWith('/__')) return admin(req, res, path, body);
  if (req.method === 'GET' && path === '/plain/lookup') {
    counts.lookups++;
    const found = originals.get(url.searchParams.get('ref') ?? '');
    note(url.searchParams.get('ref') ?? '', `lookup ${found === undefined ? 404 : 200}`);
    return found === undefined ? send(res, 404, '{"error":"not_found"}') : send(res, 200, found);
  }
  if (req.method !== 'POST') return send(res, 404, '{"error":"no_route"}');
  counts.posts++;
  if (window.open) window.posts++;
  /** @type {Record<string, unknown>} */
  const parsed = JSON.parse(body.toString('utf8') || '{}');
  const ref = String(parsed.ref);
  current = ref;
  note(ref, `arrive ${path} key=${req.headers['idempotency-key'] ?? '-'}`);
  if (path.startsWith('/native/')) {
    const key = req.headers['idempotency-key'];
    if (typeof key !== 'string') return send(res, 400, '{"error":"chaos provider wants a key"}');
    const signature = `${path} ${body.toString('base64')}`;
    const entry = keys.get(key);
    if (entry) {
      if (entry.signature !== signature) {
        counts.mismatches++;
        return send(res, 400, JSON.stringify(KEY_MISMATCH));
      }
      if (entry.saved === undefined) {
        counts.inUse++;
        return send(res, 409, JSON.stringify(KEY_IN_USE));
      }
      counts.providerReplays++;
      return send(res, 200, entry.saved, { 'idempotent-replayed': 'true', 'idempotency-key': key });
    }
    actingInWindow(ref);
    if (fault('error503')) return send(res, 503, '{"error":"unavailable"}');
    const mine = { signature, saved: /** @type {string | undefined} */ (undefined) };
    keys.set(key, mine);
    if (fault('spike')) await sleep(config.spikeMs);
    const text = JSON.stringify({ id: `obj_${++counter}`, object: path.split('/').pop(), ...parsed });
    commit(ref, text);
    mine.saved = text;
    return answerAfterCommit(res, 200, text, { 'idempotency-key': key });
  }
  if (path.startsWith('/plain/')) {
    actingInWindow(ref);
    if (fault('error503')) return send(res, 503, '{"error":"unavailable"}');
    if (fault('spike')) {
      let gone = false;
      res.once('close', () => {
        gone = !res.writableFinished;
      });
      await sleep(config.spikeMs);
      // A client that died during the spike: on the reconciled route the write is rolled back
      // (like a transaction tied to the connection) unless `lateCommits` is on. Committing it would
      // be the limitation of lookup reconciliation described in README.md (a dead owner's request
      // still running at the provider after its lease expired: a lookup says "absent", too early).
      if ((gone || req.socket.destroyed) && path.startsWith('/plain/rec/') && !config.lateCommits) {
        counts.rolledBack++;
        return note(ref, 'client gone during the spike: not committed');
      }
    }
    const text = JSON.stringify({ id: `res_${++counter}`, ...parsed });
    commit(ref, text);
    return answerAfterCommit(res, 201, text);
  }
  send(res, 404, '{"error":"no_route"}');
}

/** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res @param {string} path @param {Buffer} body */
function admin(req, res, path, body) {
  const url = new URL(req.url ?? '/', 'http://provider.local');
  if (path === '/__stats') {
    const perRef = {};
    for (const [ref, n] of writes) {
      /** @type {Record<string, { writes: number, sha: string }>} */ (perRef)[ref] = {
        writes: n,
        sha: createHash('sha256')
          .update(originals.get(ref) ?? '')
          .digest('hex'),
      };
    }
    const explain = {};
    for (const ref of url.searchParams.getAll('explain')) {
      /** @type {Record<string, string[]>} */ (explain)[ref] = history.get(ref) ?? [];
    }
    return send(res, 200, JSON.stringify({ perRef, injected, counts, window, explain }));
  }
  const input = JSON.parse(body.toString('utf8') || '{}');
  if (path === '/__faults' && req.method === 'POST') {
    faultsOn = input.enabled === true;
    return send(res, 200, '{}');
  }
  if (path === '/__window' && req.method === 'POST') {
    window.open = input.open === true;
    if (window.open) window.opened++;
    return send(res, 200, '{}');
  }
  send(res, 404, '{"error":"no_admin_route"}');
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  /** @type {Buffer[]} */
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    handle(req, res, Buffer.concat(chunks)).catch((error) => {
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: String(error) }));
    });
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 });
});
// The supervisor owns this process: when it goes, so do we.
process.on('disconnect', () => process.exit(0));
