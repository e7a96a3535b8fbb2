// Runs the billing job (job.mjs) as a child process against a Stripe-like server, kills it with
// SIGKILL while the server commits the 3rd charge (the call was made, the record was not), then
// runs it again. With oncely the rerun finishes the job without charging anyone twice; a bare
// rerun charges the first orders again.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serve, stripeLike } from '@oncely/msw';
import { Redis } from 'ioredis';

const ORIGIN = 'https://api.stripe.com';
const JOB = join(dirname(fileURLToPath(import.meta.url)), 'job.mjs');

export async function run({
  orders = 5,
  killAt = 3,
  redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  log = console.log,
} = {}) {
  const redis = await connect(redisUrl);
  const keyPrefix = `example-crash-${process.pid}-${Date.now()}:`;
  let writes = 0;
  let killCurrent;
  const stripe = stripeLike({
    baseUrl: ORIGIN,
    // Holds the killAt-th write until the job process is dead: the charge commits, nobody records it.
    beforeCommit: async () => {
      if (++writes === killAt && killCurrent) await killCurrent();
    },
  });
  const served = await serve(stripe.handlers, { origin: ORIGIN });
  const env = { API_URL: served.url, REDIS_URL: redisUrl, KEY_PREFIX: keyPrefix, ORDERS: String(orders) };
  try {
    const results = {};
    for (const mode of ['off', 'on']) {
      stripe.reset();
      writes = 0;
      const first = startJob({ ...env, ONCELY: mode });
      killCurrent = async () => {
        first.child.kill('SIGKILL');
        await first.done;
      };
      const crashed = await first.done;
      killCurrent = undefined;
      const rerun = await startJob({ ...env, ONCELY: mode }).done;
      results[mode] = summarise(mode === 'on' ? 'with oncely' : 'bare', stripe, crashed, rerun);
      log(format(results[mode]));
    }
    return { bare: results.off, oncely: results.on };
  } finally {
    await served.close();
    await deleteKeys(redis, keyPrefix);
    redis.disconnect();
  }
}

/** Starts job.mjs; `done` resolves with its exit and stdout lines. */
function startJob(env) {
  const child = spawn(process.execPath, [JOB], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const done = once(child, 'exit').then(([code, signal]) => ({
    code,
    signal,
    lines: stdout.split('\n').filter(Boolean),
    stderr,
  }));
  return { child, done };
}

function summarise(label, stripe, crashed, rerun) {
  const perOrder = new Map();
  for (const { resource } of stripe.written())
    perOrder.set(resource.order, (perOrder.get(resource.order) ?? 0) + 1);
  if (rerun.code !== 0) throw new Error(`the rerun failed (exit ${rerun.code}):\n${rerun.stderr}`);
  return {
    label,
    firstRun:
      crashed.signal === 'SIGKILL' ? `killed after ${crashed.lines.length} orders` : `exit ${crashed.code}`,
    killed: crashed.signal === 'SIGKILL',
    charges: stripe.stats().writes,
    doubleCharged: [...perOrder.values()].filter((n) => n > 1).length,
    rerun: rerun.lines,
  };
}

function format(r) {
  return `${r.label.padEnd(12)} first run: ${r.firstRun}; rerun: ${r.rerun.join(', ')}\n${''.padEnd(12)} charges=${r.charges} double-charged orders=${r.doubleCharged}`;
}

async function connect(url) {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new Error(`crash-recovery needs Redis at ${url} (set REDIS_URL): ${error.message}`);
  }
  return redis;
}

async function deleteKeys(redis, prefix) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { oncely } = await run();
  process.exitCode = oncely.killed && oncely.doubleCharged === 0 ? 0 : 1;
}
