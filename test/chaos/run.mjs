#!/usr/bin/env node
// The chaos supervisor. Starts a redis-server (AOF on, or no persistence at all with
// `redisPersistence: 'none'`; free port), the fake provider process and W
// worker processes that all run the same N logical operations in different orders; SIGKILLs
// workers mid-flight and restarts them with what they had left; kills and restarts Redis once;
// re-runs every operation once more at the end; then checks the invariants and prints one line.
//
//   node test/chaos/run.mjs --n 2000 --workers 4 --concurrency 50      (after `pnpm build`)
//
// `runChaos(options)` is what test/chaos/chaos.test.ts calls with the CI configuration.
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redisStore } from '@oncely/redis';
import { Redis } from 'ioredis';
import { makeOps, rng, shuffle } from './ops.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));

/** @type {import('./run.d.mts').ChaosOptions} */
export const DEFAULTS = {
  n: 300,
  workers: 4,
  concurrency: 50,
  killRate: 0.05,
  seed: 1,
  leaseMs: 2000,
  waitMs: 10_000,
  retries: 3,
  commandTimeoutMs: 2000,
  faults: { drop: 0.03, error5xx: 0.03, error503: 0.03, spike: 0.03 },
  log: false,
  naiveReconcile: false,
  lateCommits: false,
  redisPersistence: 'aof',
  resetWindowMs: 0,
  resetUnknownMs: undefined,
  record: 'before-return',
};

/**
 * Children run the built packages with plain node: not vitest's `--conditions @oncely/source`
 * (inherited through execArgv or NODE_OPTIONS), which would point them at the TypeScript sources.
 */
const childEnv = {
  ...process.env,
  NODE_OPTIONS: (process.env.NODE_OPTIONS ?? '').replace(/(--conditions|-C)[= ]\S+/g, '').trim(),
};
const childOptions = /** @type {const} */ ({ execArgv: [], env: childEnv });

/** Every process this module started and has not reaped yet: killed on exit, whatever happens. */
const children = new Set();
/** @param {import('node:child_process').ChildProcess} child */
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
export function killAll() {
  for (const child of children) child.kill('SIGKILL');
}
process.once('exit', killAll);

/** A TCP port free now on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * redis-server in a temp dir; `kill()` + `start()` again reuse port and dir. With AOF (`'aof'`) the
 * AOF is replayed on start; without persistence (`'none'`: no AOF, no RDB) Redis comes back empty.
 * @param {'aof' | 'none'} persistence
 */
async function startRedis(persistence) {
  const port = /** @type {number} */ (await freePort());
  const dir = mkdtempSync(join(tmpdir(), `oncely-chaos-${port}-`));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir];
  if (persistence === 'aof') args.push('--appendonly', 'yes', '--appendfsync', 'everysec');
  else args.push('--appendonly', 'no');
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let child;
  async function start() {
    const proc = track(spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let log = '';
    await new Promise((resolve, reject) => {
      /** @param {Buffer} chunk */
      const onData = (chunk) => {
        log += chunk.toString();
        if (/Ready to accept connections/.test(log)) {
          proc.stdout?.off('data', onData);
          proc.off('exit', onExit);
          resolve(undefined);
        }
      };
      /** @param {number | null} code */
      const onExit = (code) => reject(new Error(`redis-server exited (${code}) before ready:\n${log}`));
      proc.stdout?.on('data', onData);
      proc.once('exit', onExit);
      proc.once('error', reject);
    });
    proc.stdout?.resume();
    proc.stderr?.resume();
    child = proc;
  }
  /** SIGKILL: a crash, not a clean shutdown. What was acknowledged was already written to the AOF. */
  async function kill() {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  }
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    kill,
    destroy: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** @param {import('./run.d.mts').ChaosOptions} options */
async function startProvider(options) {
  const child = track(
    fork(
      join(here, 'provider.mjs'),
      [
        JSON.stringify({
          seed: options.seed,
          faults: options.faults,
          spikeMs: Math.round(options.leaseMs * 1.5),
          lateCommits: options.lateCommits,
        }),
      ],
      { ...childOptions, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    ),
  );
  const port = await new Promise((resolve, reject) => {
    child.once('message', (message) => resolve(/** @type {{ port: number }} */ (message).port));
    child.once('exit', (code) => reject(new Error(`provider exited (${code}) before listening`)));
  });
  const url = `http://127.0.0.1:${port}`;
  /** @param {string} path @param {unknown} [body] */
  const call = async (path, body) => {
    const response = await fetch(
      `${url}${path}`,
      body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) },
    );
    return response.json();
  };
  return { url, child, call };
}

/**
 * @param {Partial<import('./run.d.mts').ChaosOptions>} [given]
 * @returns {Promise<import('./run.d.mts').ChaosReport>}
 */
export async function runChaos(given = {}) {
  const options = { ...DEFAULTS, ...given, faults: { ...DEFAULTS.faults, ...given.faults } };
  const started = Date.now();
  const log = options.log
    ? (/** @type {string} */ line) =>
        process.stderr.write(`[chaos +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`)
    : () => {};
  const random = rng(options.seed * 7919);
  const ops = makeOps(options.n, options.seed);
  const redis = await startRedis(options.redisPersistence);
  let provider;
  try {
    provider = await startProvider(options);
    return await supervise(options, ops, redis, provider, random, log, started);
  } finally {
    provider?.child.kill('SIGKILL');
    await redis.destroy();
    killAll();
  }
}

/**
 * @param {import('./run.d.mts').ChaosOptions} options
 * @param {import('./ops.mjs').Op[]} ops
 * @param {Awaited<ReturnType<typeof startRedis>>} redis
 * @param {Awaited<ReturnType<typeof startProvider>>} provider
 * @param {() => number} random
 * @param {(line: string) => void} log
 * @param {number} started
 * @returns {Promise<import('./run.d.mts').ChaosReport>}
 */
async function supervise(options, ops, redis, provider, random, log, started) {
  const { n, workers: w } = options;
  /** @type {Record<string, number>} */
  const events = {};
  /** @type {Map<number, string>} op index → sha of the first 2xx body any worker saw (for the report). */
  const results = { ok: 0, unknown: 0, failed: 0, replayedOk: 0 };
  /** @type {{ index: number, sha: string, phase: string }[]} */
  const bodies = [];
  /** @type {{ index: number, outcome: string, key?: string, sha?: string, detail?: string }[]} */
  const finalResults = [];
  /** @type {string[]} */
  const failures = [];
  /** @type {Map<string, unknown[][]>} op ref → oncely events of every worker for it, in arrival order */
  const trails = new Map();
  let progress = 0;
  let refusals = 0;
  let resetRefusals = 0;
  let kills = 0;
  let spawned = 0;

  const total = n * w;
  const killCount = Math.round(options.killRate * n);
  // Kill points are progress counts (finished operations over all workers), not clock times.
  const killAt = Array.from({ length: killCount }, () => Math.floor(total * (0.05 + 0.85 * random()))).sort(
    (a, b) => a - b,
  );
  const redisAt = Math.floor(total * 0.5);
  let redisPhase = /** @type {'before' | 'down' | 'window' | 'done'} */ ('before');
  let refusalsSinceStop = 0;
  let refusalsInWindow = 0;
  /** @type {Map<string, number>} worker id → refusals since the stop */
  const refusedBy = new Map();

  /**
   * @typedef {{ id: string, todo: number[], done: Set<number>, child?: import('node:child_process').ChildProcess, finished: boolean, final: boolean, usedStore?: boolean }} Slot
   */
  /** @type {Slot[]} */
  const slots = Array.from({ length: w }, (_, i) => ({
    id: `w${i}`,
    todo: shuffle(
      ops.map((op) => op.index),
      rng(options.seed * 1000 + i),
    ),
    done: new Set(),
    finished: false,
    final: false,
  }));

  /** @type {(() => void) | undefined} */
  let wake;
  let dirty = false;
  const changed = () => {
    dirty = true;
    wake?.();
  };
  /** Resolves on the next message/exit of any child (or at once if one came meanwhile): the loop is driven by what the workers report. */
  const nextChange = () =>
    new Promise((resolve) => {
      wake = () => {
        wake = undefined;
        dirty = false;
        resolve(undefined);
      };
      if (dirty) wake();
    });

  /** @param {Slot} slot */
  function launch(slot) {
    const remaining = slot.todo.filter((index) => !slot.done.has(index));
    spawned++;
    const child = track(
      fork(join(here, 'worker.mjs'), [], { ...childOptions, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
    slot.child = child;
    slot.usedStore = false;
    child.send({
      workerId: slot.id,
      redisUrl: redis.url,
      providerUrl: provider.url,
      n,
      seed: options.seed,
      todo: remaining,
      concurrency: options.concurrency,
      leaseMs: options.leaseMs,
      waitMs: options.waitMs,
      retries: options.retries,
      commandTimeoutMs: options.commandTimeoutMs,
      maxTries: 40,
      naiveReconcile: options.naiveReconcile,
      resetWindowMs: options.resetWindowMs || 2 * options.leaseMs,
      resetUnknownMs: options.resetUnknownMs,
      record: options.record,
    });
    child.on('message', (/** @type {any} */ message) => {
      if (message.t === 'events') {
        for (const [name, value] of Object.entries(message.counts))
          events[name] = (events[name] ?? 0) + value;
        for (const entry of message.trail ?? []) {
          const list = trails.get(entry[1]) ?? [];
          list.push(entry);
          trails.set(entry[1], list);
        }
      } else if (message.t === 'refusal' && message.reset) {
        resetRefusals++; // the store lost its records (epoch changed): refused for the reset window
        if (redisPhase === 'done') awaitingWitness = false;
      } else if (message.t === 'refusal') {
        refusals++;
        if (redisPhase === 'down' || redisPhase === 'window') {
          refusalsSinceStop++;
          if (redisPhase === 'window') refusalsInWindow++;
          refusedBy.set(slot.id, (refusedBy.get(slot.id) ?? 0) + 1);
        }
      } else if (message.t === 'done') {
        slot.usedStore = true; // every operation asks the store first: this process knows its epoch
        if (slot.done.has(message.index)) return;
        slot.done.add(message.index);
        if (slot.final) finalResults.push(message);
        else progress++;
        if (message.outcome === 'ok') {
          results.ok++;
          if (message.replayed) results.replayedOk++;
          bodies.push({ index: message.index, sha: message.sha, phase: slot.final ? 'final' : 'main' });
        } else if (message.outcome === 'unknown') results.unknown++;
        else {
          results.failed++;
          if (failures.length < 10) failures.push(`${ops[message.index]?.ref}: ${message.detail}`);
        }
      } else if (message.t === 'finished') {
        slot.finished = true;
      }
      changed();
    });
    child.once('exit', () => {
      if (slot.child === child) slot.child = undefined;
      changed();
    });
  }

  const live = () => slots.filter((slot) => slot.child && !slot.finished);

  // Without persistence, Redis comes back empty, and only a process that saw the old store epoch
  // can tell that it lost records (epoch.ts): a process started after the loss that grants first
  // just creates a new epoch (the documented limit, DESIGN §9). So a worker that died around the
  // outage comes back only once a surviving worker has found the loss — or when none survives.
  let awaitingWitness = false;

  // ---- main phase -----------------------------------------------------------------------------
  for (const slot of slots) launch(slot);
  let lastLogged = 0;
  /** @type {NodeJS.Timeout | undefined} */
  let outageGuard;
  let outageTimedOut = false;
  while (slots.some((slot) => !slot.finished)) {
    await nextChange();
    if (options.log && progress - lastLogged >= total / 10) {
      lastLogged = progress;
      log(`progress ${progress}/${total} kills=${kills} refusals=${refusals} redis=${redisPhase}`);
    }
    // Restart dead workers that had not finished.
    const held = awaitingWitness && live().length > 0;
    for (const slot of slots) if (!held && !slot.child && !slot.finished) launch(slot);
    // Kill a random live worker (not one already killed) whenever progress passes the next kill
    // point; a point with no candidate stays due until there is one.
    while (killAt.length > 0 && progress >= /** @type {number} */ (killAt[0])) {
      const candidates = live().filter((slot) => slot.child && !slot.child.killed);
      const victim = candidates[Math.floor(random() * candidates.length)];
      if (!victim?.child) break;
      killAt.shift();
      kills++;
      victim.child.kill('SIGKILL');
    }

    // Redis: crash it at half-time; open the provider's "store down" window once every live worker
    // has been refused by the store; bring Redis back once every live worker was refused again.
    // Without persistence, Redis is crashed once every live worker has used the store (so knows
    // its epoch); a worker started in the moment before would be as blind as one started after.
    const everyoneKnows = options.redisPersistence !== 'none' || live().every((slot) => slot.usedStore);
    if (redisPhase === 'before' && progress >= redisAt && everyoneKnows) {
      redisPhase = 'down';
      awaitingWitness = options.redisPersistence === 'none';
      log(`killing redis at progress ${progress}`);
      await redis.kill();
      // Bounded: if the workers stay quiet (all waiting on something), the outage still ends.
      outageGuard = setTimeout(() => {
        outageTimedOut = true;
        changed();
      }, 15_000);
    }
    if (redisPhase === 'down') {
      const waiting = live();
      if (waiting.every((slot) => (refusedBy.get(slot.id) ?? 0) >= 1) || outageTimedOut) {
        await provider.call('/__window', { open: true });
        redisPhase = 'window';
        for (const slot of waiting) refusedBy.set(slot.id, 0);
        log(`store-down window open (refusals so far ${refusalsSinceStop})`);
      }
    }
    if (redisPhase === 'window') {
      const waiting = live();
      if (waiting.every((slot) => (refusedBy.get(slot.id) ?? 0) >= 2) || outageTimedOut) {
        await provider.call('/__window', { open: false });
        clearTimeout(outageGuard);
        await redis.start();
        redisPhase = 'done';
        log(`redis restarted (refusals during the outage ${refusalsSinceStop})`);
      }
    }
  }
  clearTimeout(outageGuard);
  if (redisPhase !== 'done') {
    // The workers finished before the outage could be observed (tiny N): still restart Redis.
    if (redisPhase === 'window') await provider.call('/__window', { open: false });
    if (redisPhase !== 'before') await redis.start();
  }
  const mainWall = Date.now() - started;
  log(`main phase done in ${mainWall} ms; final pass`);

  // ---- "the job is replayed next day": every operation once more, no faults, no kills ----------
  await provider.call('/__faults', { enabled: false });
  const final = {
    id: 'final',
    todo: shuffle(
      ops.map((op) => op.index),
      rng(options.seed * 31 + 7),
    ),
    done: new Set(),
    finished: false,
    final: true,
  };
  slots.push(final);
  launch(final);
  while (!final.finished) {
    await nextChange();
    if (!final.child && !final.finished) throw new Error('the final-pass worker died');
  }

  // ---- invariants ------------------------------------------------------------------------------
  const stats = /** @type {import('./run.d.mts').ProviderStats} */ (await provider.call('/__stats'));
  const violations = /** @type {string[]} */ ([]);
  const offending = new Set();
  const violate = (/** @type {string} */ message, /** @type {string} */ ref = '') => {
    if (violations.length < 50) violations.push(message);
    if (ref) offending.add(ref);
  };
  let writes = 0;
  let duplicates = 0;
  for (const op of ops) {
    const count = stats.perRef[op.ref]?.writes ?? 0;
    writes += count;
    if (count > 1) {
      duplicates += count - 1;
      violate(`${op.ref} (${op.api}) written ${count} times`, op.ref);
    }
    if (op.api === 'native' && count !== 1)
      violate(`${op.ref} (native) written ${count} times, expected 1`, op.ref);
    if (op.api === 'plain-rec' && count !== 1)
      violate(`${op.ref} (plain, reconcile hook) written ${count} times after the final pass`, op.ref);
  }

  // Replays byte-equal: every 2xx body any worker received equals the provider's original answer.
  let byteMismatches = 0;
  for (const { index, sha, phase } of bodies) {
    const op = /** @type {import('./ops.mjs').Op} */ (ops[index]);
    const original = stats.perRef[op.ref]?.sha;
    if (sha !== original) {
      byteMismatches++;
      violate(`${op.ref}: a ${phase} response body differs from the provider's original answer`, op.ref);
    }
  }

  // Final pass: native and reconciled plain ops all answered; bare plain ops answered or unknown,
  // and every bare op never written is listed as unknown (in the store too).
  // Records a reset touched: written `unknown` by a reserve after Redis lost its records (their
  // audit says so, whatever happened to them next).
  const listed = new Set();
  const touchedByReset = new Set();
  const client = new Redis(redis.url, { maxRetriesPerRequest: 2 });
  try {
    const store = redisStore({ client, keyPrefix: 'chaos:' });
    for await (const record of store.list({ status: 'unknown' })) listed.add(record.key);
    for await (const record of store.list()) {
      if (record.audit.some((entry) => /store reset/.test(entry.detail ?? '')))
        touchedByReset.add(record.key);
    }
    await store.close();
  } finally {
    client.disconnect();
  }
  let unknowns = 0;
  for (const result of finalResults) {
    const op = /** @type {import('./ops.mjs').Op} */ (ops[result.index]);
    const count = stats.perRef[op.ref]?.writes ?? 0;
    if (result.outcome === 'unknown') {
      unknowns++;
      if (op.api !== 'plain-bare') violate(`${op.ref} (${op.api}) ended unknown`, op.ref);
      if (!result.key || !listed.has(result.key))
        violate(`${op.ref} is unknown but not listed as unknown in the store`, op.ref);
    } else if (result.outcome !== 'ok') {
      violate(`${op.ref} (${op.api}) final pass: ${result.outcome} ${result.detail ?? ''}`, op.ref);
    } else if (count === 0) {
      violate(`${op.ref} (${op.api}) answered 2xx but never written`, op.ref);
    }
  }
  if (finalResults.length !== n) violate(`final pass reported ${finalResults.length} of ${n} operations`);

  // Store reset: every operation whose record Redis lost and a later run met again ends detected —
  // written once under the provider's key (native), reconciled (plain with a hook), or listed as
  // unknown (plain without one) — never sent a second time (the per-op write counts above).
  let affected = 0;
  let affectedUnknown = 0;
  for (const result of finalResults) {
    const op = /** @type {import('./ops.mjs').Op} */ (ops[result.index]);
    if (!result.key || !touchedByReset.has(result.key)) continue;
    affected++;
    if (op.api === 'plain-bare') {
      if (result.outcome === 'unknown') affectedUnknown++;
      else violate(`${op.ref} (plain, no hook) lost in the reset but answered ${result.outcome}`, op.ref);
    }
  }

  // Fail closed: nothing acted on by the provider while the store was down.
  if (stats.window.executed > 0) {
    violate(
      `${stats.window.executed} request(s) reached the provider while Redis was down: ${stats.window.refs.join(', ')}`,
    );
  }
  // Fencing: a stale owner's late write must be refused (counted), never applied. The byte check
  // above is what proves no record was overwritten; the counts show the refusals happened.
  // A keeper's `lease-lost` is real when another owner took that token's lease over; otherwise it
  // is the keeper's extend racing the attempt's own final write (see README, Findings).
  const takenOver = new Set();
  const leaseLostTokens = [];
  for (const [ref, entries] of trails) {
    for (const entry of entries) {
      if (entry[4] === 'takeover') takenOver.add(`${ref} ${JSON.parse(String(entry[5])).fromToken}`);
      if (entry[4] === 'lease-lost') leaseLostTokens.push(`${ref} ${JSON.parse(String(entry[5])).token}`);
    }
  }
  const lostToTakeover = new Set(leaseLostTokens.filter((id) => takenOver.has(id))).size;
  const leaseLostSpurious = leaseLostTokens.filter((id) => !takenOver.has(id)).length;
  const leaseLost =
    (events['record-not-written:lease-lost:complete'] ?? 0) +
    (events['record-not-written:lease-lost:markUnknown'] ?? 0) +
    (events['record-not-written:lease-lost:release'] ?? 0);

  /** @type {Record<string, { provider: string[], events: string[] }>} */
  const traces = {};
  if (offending.size > 0) {
    const query = [...offending]
      .slice(0, 5)
      .map((ref) => `explain=${encodeURIComponent(ref)}`)
      .join('&');
    const explained = /** @type {{ explain: Record<string, string[]> }} */ (
      await provider.call(`/__stats?${query}`)
    );
    for (const [ref, lines] of Object.entries(explained.explain)) {
      traces[ref] = {
        provider: lines,
        events: (trails.get(ref) ?? []).map((entry) => entry.join(' ')),
      };
    }
  }
  const wallMs = Date.now() - started;
  const figures = {
    operations: n,
    executions: total + n,
    writes,
    duplicates,
    unknowns,
    reconciled: (events['reconciled:found'] ?? 0) + (events['reconciled:absent'] ?? 0),
    replays: events.replayed ?? 0,
    waits: events.waiting ?? 0,
    takeovers: events.takeover ?? 0,
    staleWritesRefused: leaseLost,
    leaseLostEvents: events['lease-lost'] ?? 0,
    storeDownRefusals: refusalsSinceStop,
    storeDownRefusalsInWindow: refusalsInWindow,
    refusalsUnderLoad: refusals - refusalsSinceStop,
    leasesLostToTakeover: lostToTakeover,
    leaseLostSpurious,
    windowPosts: stats.window.posts,
    windowExecuted: stats.window.executed,
    byteMismatches,
    kills,
    workerStarts: spawned,
    redisRestarts: redisPhase === 'done' ? 1 : 0,
    storeResets: events['store:store-reset'] ?? 0,
    resetRefusals,
    resetAffected: affected,
    resetAffectedUnknown: affectedUnknown,
    failedInMain: results.failed,
    returnedBeforeRecord: events['offpath:returned-before-record'] ?? 0,
    wallMs,
  };
  const summary =
    `chaos N=${n} W=${w} C=${options.concurrency}: operations=${figures.operations} writes=${figures.writes} ` +
    `duplicates=${figures.duplicates} unknowns=${figures.unknowns} reconciled=${figures.reconciled} ` +
    `replays=${figures.replays} waits=${figures.waits} takeovers=${figures.takeovers} ` +
    `stale-writes-refused=${figures.staleWritesRefused} leases-lost-to-takeover=${figures.leasesLostToTakeover} ` +
    `store-down-refusals=${figures.storeDownRefusals} other-store-refusals=${figures.refusalsUnderLoad} ` +
    `posts-while-down=${figures.windowPosts} sent-while-down=${figures.windowExecuted} byte-mismatches=${figures.byteMismatches} kills=${figures.kills} ` +
    `redis-restarts=${figures.redisRestarts}` +
    (options.redisPersistence === 'none'
      ? ` (no persistence) store-resets=${figures.storeResets} reset-refusals=${figures.resetRefusals} ` +
        `reset-affected=${figures.resetAffected} reset-affected-unknown=${figures.resetAffectedUnknown}`
      : '') +
    (options.record === 'after-return'
      ? ` (record after return) returned-before-record=${figures.returnedBeforeRecord}`
      : '') +
    ` wall=${(wallMs / 1000).toFixed(1)}s`;
  return {
    summary,
    figures,
    violations,
    traces,
    events,
    injected: stats.injected,
    provider: stats.counts,
    failures,
  };
}

/** @param {string[]} argv */
function parseArgs(argv) {
  /** @type {Record<string, string>} */
  const raw = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = /** @type {string} */ (argv[i]);
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const [name, inline] = arg.slice(2).split('=');
    const next = argv[i + 1];
    const flag = inline === undefined && (next === undefined || next.startsWith('--'));
    raw[/** @type {string} */ (name)] = inline ?? (flag ? 'true' : /** @type {string} */ (argv[++i]));
  }
  /** @type {Partial<import('./run.d.mts').ChaosOptions>} */
  const options = {
    log: raw.quiet === undefined,
    naiveReconcile: raw['naive-reconcile'] !== undefined,
    lateCommits: raw['late-commits'] !== undefined,
  };
  if (raw.record !== undefined) {
    if (raw.record !== 'before-return' && raw.record !== 'after-return')
      throw new Error('--record must be before-return or after-return');
    options.record = raw.record;
  }
  if (raw['redis-persistence'] !== undefined) {
    if (raw['redis-persistence'] !== 'aof' && raw['redis-persistence'] !== 'none')
      throw new Error('--redis-persistence must be aof or none');
    options.redisPersistence = raw['redis-persistence'];
  }
  const numbers = /** @type {const} */ ({
    n: 'n',
    workers: 'workers',
    concurrency: 'concurrency',
    'kill-rate': 'killRate',
    seed: 'seed',
    'lease-ms': 'leaseMs',
    'wait-ms': 'waitMs',
    retries: 'retries',
    'reset-window-ms': 'resetWindowMs',
    'reset-unknown-ms': 'resetUnknownMs',
  });
  for (const [flag, name] of Object.entries(numbers)) {
    if (raw[flag] === undefined) continue;
    const value = Number(raw[flag]);
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${flag} must be a number`);
    options[name] = value;
  }
  const rate = raw['fault-rate'];
  if (rate !== undefined) {
    const p = Number(rate);
    options.faults = { drop: p, error5xx: p, error503: p, spike: p };
  }
  return options;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
  const options = parseArgs(process.argv.slice(2));
  const report = await runChaos(options);
  process.stdout.write(`${report.summary}\n`);
  if (report.failures.length > 0)
    process.stdout.write(`main-phase failures (retried in the final pass): ${report.failures.join(' | ')}\n`);
  if (options.log)
    process.stderr.write(
      `events ${JSON.stringify(report.events)}\ninjected ${JSON.stringify(report.injected)} provider ${JSON.stringify(report.provider)}\n`,
    );
  if (report.violations.length > 0) {
    process.stdout.write(`INVARIANTS VIOLATED:\n  ${report.violations.join('\n  ')}\n`);
    process.stdout.write(`traces ${JSON.stringify(report.traces, null, 1)}\n`);
    process.exitCode = 1;
  }
}
