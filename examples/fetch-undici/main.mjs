// Creates payouts with Node's global fetch. Its `dispatcher` is an undici Agent composed with
// oncely's interceptor inside undici's retry interceptor, so every retry goes through oncely.
// The Stripe-like server is the @oncely/msw emulator served over loopback HTTP (MSW cannot
// intercept below a dispatcher), losing 30% of its responses after the write.
import { pathToFileURL } from 'node:url';
import { createIdempotency } from '@oncely/core';
import { serve, stripeLike } from '@oncely/msw';
import { idempotency, oncelyHeaders } from '@oncely/undici';
import { Agent, interceptors } from 'undici';

const ORIGIN = 'https://api.stripe.com';

export async function run({ payouts = 20, dropRate = 0.3, seed = 11, log = console.log } = {}) {
  const stripe = stripeLike({ baseUrl: ORIGIN, faults: { dropAfterCommit: dropRate }, random: seeded(seed) });
  const served = await serve(stripe.handlers, { origin: ORIGIN });
  const retry = () =>
    interceptors.retry({ methods: ['POST'], maxRetries: 3, minTimeout: 1, timeoutFactor: 1 });
  const agents = [];
  try {
    const bareAgent = new Agent().compose(retry());
    agents.push(bareAgent);
    const bare = summarise('fetch + undici retry', stripe, await payAll(served.url, bareAgent, payouts));
    stripe.reset();

    // The server is reached at a loopback URL: the route names it, with the stripe preset.
    const idem = createIdempotency({ routes: [{ match: `POST ${served.url}/v1/*`, provider: 'stripe' }] });
    const guardedAgent = new Agent().compose(idempotency(idem), retry());
    agents.push(guardedAgent);
    const guarded = summarise(
      'fetch + oncely + retry',
      stripe,
      await payAll(served.url, guardedAgent, payouts),
    );

    for (const result of [bare, guarded]) log(format(result));
    return { bare, oncely: guarded };
  } finally {
    await Promise.all(agents.map((agent) => agent.close()));
    await served.close();
  }
}

async function payAll(base, dispatcher, count) {
  const failed = [];
  for (let n = 1; n <= count; n++) {
    const payout = `payout-${n}`;
    try {
      const res = await fetch(`${base}/v1/payouts`, {
        method: 'POST',
        dispatcher,
        // fetch cannot pass dispatch options: per-request oncely options travel as control headers,
        // which the interceptor takes off before anything is sent.
        headers: { 'content-type': 'application/json', ...oncelyHeaders({ key: payout }) },
        body: JSON.stringify({ amount: 500 + n, currency: 'eur', payout }),
      });
      await res.arrayBuffer();
      if (!res.ok) failed.push(payout);
    } catch {
      failed.push(payout);
    }
  }
  return { failed };
}

function summarise(label, stripe, { failed }) {
  const perPayout = new Map();
  for (const { resource } of stripe.written())
    perPayout.set(resource.payout, (perPayout.get(resource.payout) ?? 0) + 1);
  const stats = stripe.stats();
  return {
    label,
    payouts: stats.writes,
    doublePaid: [...perPayout.values()].filter((n) => n > 1).length,
    lostResponses: stats.dropped,
    providerReplays: stats.replays,
    failed: failed.length,
  };
}

function format(r) {
  return `${r.label.padEnd(24)} payouts=${r.payouts} paid twice=${r.doublePaid} lost responses=${r.lostResponses} provider replays=${r.providerReplays} failed=${r.failed}`;
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
  process.exitCode = oncely.doublePaid === 0 && oncely.failed === 0 ? 0 : 1;
}
