// Starts the same job twice at the same moment (a cron that fired twice, a deploy overlap) against
// an invoicing API without native keys: bare, then with oncely sharing one Redis store.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { plainApi, serve } from '@oncely/msw';
import { Redis } from 'ioredis';

const ORIGIN = 'https://billing.example.com';
const JOB = join(dirname(fileURLToPath(import.meta.url)), 'job.mjs');

export async function run({
  customers = 10,
  redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  log = console.log,
} = {}) {
  const redis = await connect(redisUrl);
  const keyPrefix = `example-concurrent-${process.pid}-${Date.now()}:`;
  // A little latency keeps both processes' writes overlapping.
  const api = plainApi({ baseUrl: ORIGIN, faults: { latencyMs: 20 } });
  const served = await serve(api.handlers, { origin: ORIGIN });
  const env = {
    API_URL: served.url,
    REDIS_URL: redisUrl,
    KEY_PREFIX: keyPrefix,
    CUSTOMERS: String(customers),
  };
  try {
    const results = {};
    for (const mode of ['off', 'on']) {
      api.reset();
      const runs = await Promise.all([runJob({ ...env, ONCELY: mode }), runJob({ ...env, ONCELY: mode })]);
      const stats = api.stats();
      results[mode] = {
        label: mode === 'on' ? 'with oncely + Redis' : 'bare (two processes)',
        invoices: stats.writes,
        duplicated: stats.duplicates,
        perProcess: runs.map((lines) => ({
          sent: lines.filter((line) => line.endsWith(' sent')).length,
          replayed: lines.filter((line) => line.endsWith(' replayed')).length,
        })),
      };
      log(format(results[mode]));
    }
    return { bare: results.off, oncely: results.on };
  } finally {
    await served.close();
    await deleteKeys(redis, keyPrefix);
    redis.disconnect();
  }
}

/** Runs job.mjs to completion; resolves with its stdout lines. */
async function runJob(env) {
  const child = spawn(process.execPath, [JOB], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`job exited with ${code}:\n${stderr}`);
  return stdout.split('\n').filter(Boolean);
}

function format(r) {
  const processes = r.perProcess
    .map((p, i) => `process ${i + 1}: ${p.sent} sent, ${p.replayed} replayed`)
    .join('; ');
  return `${r.label.padEnd(22)} invoices=${r.invoices} duplicated=${r.duplicated} (${processes})`;
}

async function connect(url) {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new Error(`concurrent-runs needs Redis at ${url} (set REDIS_URL): ${error.message}`);
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
  process.exitCode = oncely.duplicated === 0 ? 0 : 1;
}
