// Charges a batch of orders on a Stripe-like API that loses 30% of its responses after charging,
// twice: bare axios + axios-retry, then the same client with oncely and the stripe preset.
import { pathToFileURL } from 'node:url';
import { withIdempotency } from '@oncely/axios';
import { createIdempotency } from '@oncely/core';
import { stripeLike } from '@oncely/msw';
import axios from 'axios';
import axiosRetry from 'axios-retry';
import { setupServer } from 'msw/node';

const STRIPE = 'https://api.stripe.com';

/** Runs the job both ways; returns what the "provider" saw for each. */
export async function run({ orders = 20, dropRate = 0.3, seed = 7, log = console.log } = {}) {
  const stripe = stripeLike({
    baseUrl: STRIPE,
    requiredFields: ['amount'],
    faults: { dropAfterCommit: dropRate },
    random: seeded(seed),
  });
  const server = setupServer(...stripe.handlers);
  server.listen({ onUnhandledRequest: 'error' });
  try {
    const bare = await chargeAll(retrying(axios.create({ baseURL: STRIPE })), orders);
    const bareResult = summarise('bare axios + axios-retry', stripe, bare);
    stripe.reset();

    const idem = createIdempotency({ routes: [{ match: `POST ${STRIPE}/v1/*`, provider: 'stripe' }] });
    const guarded = await chargeAll(
      retrying(withIdempotency(axios.create({ baseURL: STRIPE }), idem)),
      orders,
    );
    const oncelyResult = summarise('with oncely (stripe preset)', stripe, guarded);

    for (const result of [bareResult, oncelyResult]) log(format(result));
    return { bare: bareResult, oncely: oncelyResult };
  } finally {
    server.close();
  }
}

/**
 * axios-retry that also retries POSTs when no response came back (a lost response surfaces as an
 * error without a code, which `isNetworkError` skips): what makes the bare run double-charge.
 */
function retrying(client) {
  axiosRetry(client, { retries: 3, retryDelay: () => 0, retryCondition: (error) => !error.response });
  return client;
}

/** One charge per order, keyed by the order (`oncely.key` is ignored by a bare client). */
async function chargeAll(client, count) {
  const failed = [];
  for (let n = 1; n <= count; n++) {
    const order = `order-${n}`;
    const body = new URLSearchParams({
      amount: String(1000 + n),
      currency: 'eur',
      'metadata[order_id]': order,
    });
    try {
      await client.post('/v1/charges', body, { oncely: { key: `charge-${order}` } });
    } catch {
      failed.push(order);
    }
  }
  return { failed };
}

function summarise(label, stripe, { failed }) {
  const perOrder = new Map();
  for (const { resource } of stripe.written()) {
    const order = resource['metadata[order_id]'];
    perOrder.set(order, (perOrder.get(order) ?? 0) + 1);
  }
  const stats = stripe.stats();
  return {
    label,
    charges: stats.writes,
    doubleCharged: [...perOrder.values()].filter((n) => n > 1).length,
    lostResponses: stats.dropped,
    providerReplays: stats.replays,
    failedOrders: failed.length,
  };
}

function format(r) {
  return `${r.label.padEnd(30)} charges=${r.charges} double-charged orders=${r.doubleCharged} lost responses=${r.lostResponses} provider replays=${r.providerReplays} failed orders=${r.failedOrders}`;
}

/** mulberry32: a tiny seeded PRNG, so every run loses the same responses. */
function seeded(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { oncely } = await run();
  process.exitCode = oncely.doubleCharged === 0 ? 0 : 1;
}
