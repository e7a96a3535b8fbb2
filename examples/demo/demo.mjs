// The main demo: the same billing job, first with bare axios + axios-retry, then with oncely,
// against lost responses, two concurrent runs of the job and a crash followed by a re-run.
// Embedded memory store by default; REDIS_URL switches to the Redis store.

import { withIdempotency } from '@oncely/axios';
import { createIdempotency, memoryStore } from '@oncely/core';
import axios from 'axios';
import axiosRetry from 'axios-retry';
import { startStripeLikeServer } from './stripe-like-server.mjs';

const ORDERS = 30;
const order = (n) => ({ amount: 1000 + n, currency: 'eur', metadata: { order_id: `order-${n}` } });

/** The automation under test: charge each order, retrying POSTs after network errors. */
async function billingJob(client, orders, { retries = 3 } = {}) {
  for (const n of orders) {
    try {
      await client.post('/v1/charges', order(n), { 'axios-retry': { retries } });
    } catch {
      // The job logs and moves on; tomorrow's re-run will try again.
    }
  }
}

function retryingClient(baseURL) {
  const client = axios.create({ baseURL, headers: { authorization: 'Bearer sk_test_demo' } });
  // Retry POSTs after network errors (a lost response is one) — what most automations do.
  axiosRetry(client, { retries: 3, retryDelay: () => 0, retryCondition: axiosRetry.isNetworkError });
  return client;
}

async function makeStore() {
  if (!process.env.REDIS_URL) return { store: memoryStore(), close: async () => {} };
  const [{ Redis }, { redisStore }] = await Promise.all([import('ioredis'), import('@oncely/redis')]);
  const client = new Redis(process.env.REDIS_URL);
  const keyPrefix = `oncely-demo-${process.pid}:`;
  const store = redisStore({ client, keyPrefix });
  return {
    store,
    close: async () => {
      await store.close(); // the store's own subscriber connection
      // A demo leaves nothing behind in your Redis.
      for await (const keys of client.scanStream({ match: `${keyPrefix}*`, count: 500 })) {
        if (keys.length > 0) await client.del(...keys);
      }
      await client.quit(); // the client is ours: the store never closes it
    },
  };
}

async function scenario(label, makeClient) {
  const server = await startStripeLikeServer();
  const first = Array.from({ length: 20 }, (_, i) => i + 1);
  const twins = Array.from({ length: 5 }, (_, i) => i + 21);
  const crashed = Array.from({ length: 5 }, (_, i) => i + 26);

  // 1. One run of the job; every 4th response is lost after the charge was made.
  for (const n of first) if (n % 4 === 0) server.loseResponse(`order-${n}`);
  await billingJob(await makeClient(server.url), first);
  // 2. The scheduler starts the job twice at once (two workers, same store).
  const [a, b] = [await makeClient(server.url), await makeClient(server.url)];
  await Promise.all([billingJob(a, twins), billingJob(b, twins)]);
  // 3. A worker crashes right after the provider charged (no retry: the process is gone)...
  for (const n of crashed) server.loseResponse(`order-${n}`);
  await billingJob(await makeClient(server.url, { crashed: true }), crashed, { retries: 0 });
  // ...and the job is re-run (by a new process: with the memory store, its records died with it).
  await billingJob(await makeClient(server.url, { restarted: true }), crashed);

  const stats = server.stats();
  await server.close();
  return { label, ...stats };
}

const counts = { replays: 0, waits: 0, unknowns: 0 };
const { store, close } = await makeStore();
const onEvent = (e) => {
  if (e.type === 'replayed' || e.type === 'coalesced') counts.replays++;
  if (e.type === 'waiting') counts.waits++;
  if (e.type === 'unknown') counts.unknowns++;
};

const started = Date.now();
const bare = await scenario('bare axios + axios-retry', async (url) => retryingClient(url));
const withOncely = await scenario('with oncely', async (url, phase = {}) => {
  // An embedded store dies with its process: the crashed and the restarted process each have their
  // own. (Redis outlives them; the provider's key protects the embedded case too.)
  const ownProcess = (phase.crashed || phase.restarted) && !process.env.REDIS_URL;
  const idem = createIdempotency({
    store: ownProcess ? memoryStore() : store,
    namespace: 'billing-bot',
    routes: [{ match: 'POST /v1/charges', provider: 'stripe' }],
    wait: { timeout: '5s' },
    onEvent,
  });
  return withIdempotency(retryingClient(url), idem);
});
await close();

const rows = [
  ['', 'bare', 'oncely'],
  ['orders', ORDERS, ORDERS],
  ['charges created', bare.charges, withOncely.charges],
  ['double-charged orders', bare.doubleCharged, withOncely.doubleCharged],
  ['replays (oncely + provider)', bare.replays, counts.replays + withOncely.replays],
  ['waits for a twin', 0, counts.waits],
  ['unknown outcomes', 0, counts.unknowns],
];
console.log(`\noncely demo — ${ORDERS} orders, lost responses, two concurrent runs, a crash and a re-run`);
console.log(
  `store: ${process.env.REDIS_URL ? `Redis (${process.env.REDIS_URL})` : 'embedded memory store'}\n`,
);
for (const [name, x, y] of rows)
  console.log(`  ${String(name).padEnd(30)}${String(x).padStart(8)}${String(y).padStart(10)}`);
const ok = withOncely.doubleCharged === 0 && withOncely.charges === ORDERS;
console.log(
  `\n${ok ? 'OK' : 'FAILED'}: oncely charged ${withOncely.charges} of ${ORDERS} orders, ${withOncely.doubleCharged} twice; ` +
    `bare axios double-charged ${bare.doubleCharged}. (${Date.now() - started} ms)`,
);
process.exitCode = ok ? 0 : 1;
