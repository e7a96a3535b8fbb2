// One chaos worker process: runs its list of logical operations, C at a time, through the axios,
// got and undici plugins (chosen per operation), each client with its own retry on for POST, all
// over one Redis store. Reports every finished operation and every oncely event to the supervisor
// over IPC; it may be SIGKILLed at any moment (that is the point).
//
// Runs the BUILT packages (dist/): `pnpm build` first.
import { createHash } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { withIdempotency } from '@oncely/axios';
import { createIdempotency } from '@oncely/core';
import { idempotency as gotIdempotency } from '@oncely/got';
import { redisStore } from '@oncely/redis';
import { idempotency as undiciIdempotency } from '@oncely/undici';
import axios from 'axios';
import axiosRetry, { isNetworkError, isRetryableError } from 'axios-retry';
import got from 'got';
import { Redis } from 'ioredis';
import { interceptors, Agent as UndiciAgent, request as undiciRequest } from 'undici';
import { makeOps } from './ops.mjs';

/**
 * @typedef {{
 *   workerId: string, redisUrl: string, providerUrl: string, n: number, seed: number, todo: number[],
 *   concurrency: number, leaseMs: number, waitMs: number, retries: number, commandTimeoutMs: number,
 *   maxTries: number, naiveReconcile: boolean, resetWindowMs: number, resetUnknownMs?: number,
 *   record: 'before-return' | 'after-return',
 * }} WorkerConfig
 * @typedef {{ status: number, body: Buffer, replayed: boolean }} Reply
 */

const CLIENTS = /** @type {const} */ (['axios', 'got', 'undici']);

/** @type {WorkerConfig} */
const config = await new Promise((resolve) => process.once('message', resolve));
const ops = makeOps(config.n, config.seed);

// --- events, batched per tick so a SIGKILL loses at most the current tick's counts -------------
/** @type {Record<string, number>} */
let pending = {};
let flushQueued = false;
/** @param {string} name */
function count(name) {
  pending[name] = (pending[name] ?? 0) + 1;
  if (flushQueued) return;
  flushQueued = true;
  setImmediate(() => {
    flushQueued = false;
    const counts = pending;
    const entries = trail;
    pending = {};
    trail = [];
    process.send?.({ t: 'events', counts, trail: entries });
  });
}

/**
 * A keeper's `lease-lost` for an attempt this process had already finished is the extend timer
 * racing the final write (not a lost lease); one for a running attempt is a real loss.
 * @type {Map<string, number>} key → token of this process's running attempt
 */
const running = new Map();
/** @type {Set<string>} `${key}:${token}` of attempts this process finished */
const finished = new Set();
/** @type {Set<string>} keys this process has seen a `completed` event for (`record: 'after-return'` figure) */
const recorded = new Set();

/** Per-operation event trail, shipped with the counts, for the supervisor to explain a violation. @type {unknown[][]} */
let trail = [];
/** @type {Map<string, string>} store key → op ref (filled once the engine exists) */
const refOf = new Map();
/** @type {Map<string, string>} op ref → store key */
const keyOf = new Map();

/** @param {import('@oncely/core').OncelyEvent} event */
function onEvent(event) {
  const { type, key, ...detail } = event;
  trail.push([Date.now(), refOf.get(key) ?? key, config.workerId, process.pid, type, JSON.stringify(detail)]);
  count(event.type);
  if (event.type === 'sent') running.set(event.key, event.token);
  if (event.type === 'completed') recorded.add(event.key);
  if (event.type === 'completed' || event.type === 'released' || event.type === 'unknown') {
    const token = running.get(event.key);
    if (token !== undefined) finished.add(`${event.key}:${token}`);
  }
  if (event.type === 'lease-lost') {
    count(
      finished.has(`${event.key}:${event.token}`) ? 'lease-lost:after-finish' : 'lease-lost:while-running',
    );
  }
  if (event.type === 'record-not-written') count(`record-not-written:${event.reason}:${event.operation}`);
  if (event.type === 'reconciled') count(`reconciled:${event.verdict}`);
  if (event.type === 'takeover') count(`takeover:${event.previous}`);
  if (event.type === 'replayed') count(`replayed:${event.source}`);
}

// --- store and engine ---------------------------------------------------------------------------
const redis = new Redis(config.redisUrl, { retryStrategy: () => 100 });
redis.on('error', () => undefined); // expected while the supervisor has Redis stopped
const store = redisStore({
  client: redis,
  keyPrefix: 'chaos:',
  commandTimeoutMs: config.commandTimeoutMs,
  pollIntervalMs: 250,
  // After Redis lost its records (restart without persistence): refuse for longer than any write
  // can still be running at the provider (a spike is 1.5 × the lease); the CI sets 2 × the lease.
  resetWindowMs: config.resetWindowMs,
  resetUnknownMs: config.resetUnknownMs,
});
// Store-wide events (`store-not-durable`, `store-reset`), counted apart from the engine's events.
store.onStoreEvent?.((event) => {
  count(`store:${event.type}`);
  trail.push([
    Date.now(),
    event.key ? (refOf.get(event.key) ?? event.key) : '-',
    config.workerId,
    process.pid,
    `store:${event.type}`,
    JSON.stringify({ detail: event.detail }),
  ]);
});

/**
 * Reconcile hook for `/plain/rec/*`: look the resource up by its ref; 404 means it was never created.
 *
 * WORKAROUND (core bug, see test/chaos/README.md "Findings"): the engine runs the hook without
 * keeping the lease it took over, and sends after an `absent` verdict without checking it still
 * holds that lease. A hook slower than the lease lets a second contender take over, reconcile
 * `absent` too, and both send: a duplicate write. So the hook keeps the lease itself while it
 * runs, and confirms it (a fenced extend) before answering `absent`; a lost lease → "cannot tell"
 * (the caller gets UnknownOutcomeError and the job retries the operation later, which then waits
 * for or replays the new owner's result). `naiveReconcile: true` turns this off to show the bug.
 */
const lookupAgent = new UndiciAgent({ connections: 8 });
/** @param {import('@oncely/core').ReconcileContext} ctx */
async function reconcile(ctx) {
  const token = ctx.record.fencingToken;
  let lost = false;
  const keeper = config.naiveReconcile
    ? undefined
    : setInterval(
        () => {
          store.extend(ctx.key, token, config.leaseMs).catch((error) => {
            if (error?.code === 'ONCELY_LEASE_LOST') lost = true;
          });
        },
        Math.max(5, Math.floor(config.leaseMs / 3)),
      );
  try {
    const ref = /** @type {{ ref: string }} */ (ctx.request.json).ref;
    const found = await undiciRequest(`${config.providerUrl}/plain/lookup?ref=${encodeURIComponent(ref)}`, {
      dispatcher: lookupAgent,
    });
    const body = Buffer.from(await found.body.arrayBuffer());
    if (found.statusCode === 200) {
      return ctx.found({ status: 201, headers: { 'content-type': 'application/json' }, body });
    }
    if (found.statusCode !== 404) return undefined; // cannot tell: stays unknown
    if (!config.naiveReconcile) {
      if (lost) return leaseLostInHook();
      try {
        await store.extend(ctx.key, token, config.leaseMs); // fenced: still mine, for another lease
      } catch {
        return leaseLostInHook();
      }
    }
    return ctx.absent();
  } finally {
    clearInterval(keeper);
  }
}
function leaseLostInHook() {
  count('workaround:hook-lease-lost');
  return undefined;
}

const idem = createIdempotency({
  store,
  namespace: 'chaos',
  lease: config.leaseMs,
  ttl: '1h',
  wait: { timeout: config.waitMs },
  record: config.record,
  routes: [
    { match: 'POST /native/*', provider: 'stripe' },
    { match: 'POST /plain/rec/*', reconcile },
    // `/plain/bare/*`: guarded (POST), no hook: an unknown outcome stays unknown.
  ],
  onEvent,
});

for (const op of ops) {
  const request = {
    method: 'POST',
    url: `${config.providerUrl}${op.path}`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(op.body),
  };
  const derived = idem.keyFor(request);
  if (derived) {
    refOf.set(derived.key, op.ref);
    keyOf.set(op.ref, derived.key);
  }
}

// --- the three clients, each with its own retry for POST ----------------------------------------
const retries = config.retries;

const axiosInstance = axios.create({
  baseURL: config.providerUrl,
  responseType: 'arraybuffer',
  httpAgent: new HttpAgent({ keepAlive: true, maxSockets: config.concurrency }),
});
axiosRetry(axiosInstance, {
  retries,
  retryDelay: () => 20,
  retryCondition: (error) => isNetworkError(error) || isRetryableError(error),
});
withIdempotency(axiosInstance, idem);

const gotInstance = got
  .extend({
    prefixUrl: config.providerUrl,
    responseType: 'buffer',
    agent: { http: new HttpAgent({ keepAlive: true, maxSockets: config.concurrency }) },
    retry: { limit: retries, methods: ['POST'], backoffLimit: 50, noise: 0 },
  })
  .extend(gotIdempotency(idem));

const undiciAgent = new UndiciAgent({ connections: config.concurrency }).compose(
  undiciIdempotency(idem),
  interceptors.retry({
    methods: ['POST'],
    maxRetries: retries,
    minTimeout: 20,
    maxTimeout: 50,
    statusCodes: [500, 502, 503, 504],
  }),
);

/** @param {string} client @param {import('./ops.mjs').Op} op @returns {Promise<Reply>} */
async function post(client, op) {
  const json = JSON.stringify(op.body);
  if (client === 'axios') {
    const response = await axiosInstance.post(op.path, json, {
      headers: { 'content-type': 'application/json' },
    });
    return {
      status: response.status,
      body: Buffer.from(response.data),
      replayed: response.headers['oncely-replayed'] === 'true',
    };
  }
  if (client === 'got') {
    const response = await gotInstance.post(op.path.slice(1), {
      body: json,
      headers: { 'content-type': 'application/json' },
    });
    return {
      status: response.statusCode,
      body: response.rawBody,
      replayed: response.headers['oncely-replayed'] === 'true',
    };
  }
  const response = await undiciRequest(`${config.providerUrl}${op.path}`, {
    method: 'POST',
    dispatcher: undiciAgent,
    headers: { 'content-type': 'application/json' },
    body: json,
  });
  const body = Buffer.from(await response.body.arrayBuffer());
  if (response.statusCode >= 400) {
    throw Object.assign(new Error(`HTTP ${response.statusCode}`), { statusCode: response.statusCode });
  }
  return { status: response.statusCode, body, replayed: response.headers['oncely-replayed'] === 'true' };
}

/** The oncely error in a client error's chain (axios, got and undici each wrap it their way). @param {unknown} error */
function oncelyOf(error) {
  /** @type {{ code: string, key: string | undefined, retryAfterMs?: number } | undefined} */
  let found;
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 6; depth++) {
    const { code, key, retryAfterMs } =
      /** @type {{ code?: unknown, key?: unknown, retryAfterMs?: unknown }} */ (current);
    if (typeof code === 'string' && code.startsWith('ONCELY_')) {
      found = {
        code,
        key: typeof key === 'string' ? key : found?.key,
        // StoreResetError: the store lost its records and refuses for this long.
        ...(typeof retryAfterMs === 'number' ? { retryAfterMs } : {}),
      };
      if (found.key !== undefined) return found;
    }
    current = /** @type {{ cause?: unknown }} */ (current).cause;
  }
  return found;
}

/** @param {unknown} error */
function describe(error) {
  if (!(error instanceof Error)) return String(error);
  const code = /** @type {{ code?: unknown }} */ (error).code;
  return `${error.name}${typeof code === 'string' ? ` ${code}` : ''}: ${error.message}`.slice(0, 200);
}

/**
 * One logical operation until it has an answer: a 2xx (live or replayed), or an unknown outcome.
 * The store being down, a twin still in flight, or a transport error after the client's own
 * retries: the job tries the operation again later, like a real job would.
 * @param {number} index
 */
async function runOp(index) {
  const op = /** @type {import('./ops.mjs').Op} */ (ops[index]);
  let last = '';
  for (let tries = 0; tries < config.maxTries; tries++) {
    const client = /** @type {string} */ (
      CLIENTS[(index + tries + Number(config.workerId.replace(/\D/g, ''))) % 3]
    );
    try {
      const reply = await post(client, op);
      const key = keyOf.get(op.ref);
      // Answered live before this process saw the record land: the off-path gap really happened.
      if (!reply.replayed && reply.status < 300 && key !== undefined && !recorded.has(key))
        count('offpath:returned-before-record');
      const sha = createHash('sha256').update(reply.body).digest('hex');
      return {
        t: 'done',
        index,
        outcome: 'ok',
        key,
        status: reply.status,
        sha,
        replayed: reply.replayed,
        client,
      };
    } catch (error) {
      const oncely = oncelyOf(error);
      last = describe(error);
      if (oncely?.code === 'ONCELY_UNKNOWN_OUTCOME') {
        // No hook (bare route): unknown is the answer. With a hook, "cannot tell" can be transient
        // (lookup failed, lease lost to another contender): the job tries again later.
        if (op.api === 'plain-bare' || tries >= 5) {
          return { t: 'done', index, outcome: 'unknown', key: oncely.key, client };
        }
        count('retry:unknown-with-hook');
      } else if (oncely?.code === 'ONCELY_STORE_UNAVAILABLE' && oncely.retryAfterMs !== undefined) {
        // Redis lost its records (epoch changed): refused for the reset window. Wait it out, as a
        // job honouring the error's retryAfterMs would.
        process.send?.({ t: 'refusal', reset: true });
        count('refusal:store-reset');
        await sleep(Math.min(oncely.retryAfterMs, 5_000) + Math.random() * 100);
        continue;
      } else if (oncely?.code === 'ONCELY_STORE_UNAVAILABLE') {
        process.send?.({ t: 'refusal' });
        count('refusal:store-unavailable');
        count(
          `refusal:store-unavailable:${/no reply/.test(last) ? 'timeout' : /reconnecting|closed|connect/i.test(last) ? 'connection' : 'other'}`,
        );
      } else if (oncely?.code === 'ONCELY_IN_FLIGHT_TIMEOUT') {
        count('refusal:in-flight-timeout');
      } else if (oncely) {
        count(`error:${oncely.code}`);
      } else {
        count('error:transport');
      }
      await sleep(50 + Math.random() * 150); // the job's own back-off before trying the operation again
    }
  }
  return { t: 'done', index, outcome: 'failed', key: keyOf.get(op.ref), detail: last };
}

let next = 0;
async function lane() {
  for (;;) {
    const index = config.todo[next++];
    if (index === undefined) return;
    process.send?.(await runOp(index));
  }
}
await Promise.all(Array.from({ length: config.concurrency }, lane));

// The records still being written (`record: 'after-return'`), then the last counts; then leave.
await idem.flush();
await new Promise((resolve) => setImmediate(resolve));
process.send?.({ t: 'events', counts: pending }, () => {
  process.send?.({ t: 'finished' }, () => process.exit(0));
});
