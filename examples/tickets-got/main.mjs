// Opens one ticket per incident on an API with no idempotency keys, which sometimes answers 500
// after creating the ticket and sometimes loses the response. got retries both. Run twice: bare got,
// then got with oncely and a reconcile hook that looks the ticket up by its external id (`ref`).
import { pathToFileURL } from 'node:url';
import { createIdempotency } from '@oncely/core';
import { idempotency } from '@oncely/got';
import { plainApi } from '@oncely/msw';
import got from 'got';
import { setupServer } from 'msw/node';

const API = 'https://tickets.example.com/api';

export async function run({ incidents = 20, seed = 3, log = console.log } = {}) {
  const tickets = plainApi({
    baseUrl: API,
    faults: { error5xxAfterCommit: 0.2, dropAfterCommit: 0.2 },
    random: seeded(seed),
  });
  const server = setupServer(...tickets.handlers);
  server.listen({ onUnhandledRequest: 'error' });
  try {
    const bare = got.extend({ prefixUrl: API, retry: RETRY });
    const bareResult = summarise('bare got (retry on)', tickets, await openAll(bare, incidents));
    tickets.reset();

    const lookups = got.extend({ prefixUrl: API, throwHttpErrors: false });
    const idem = createIdempotency({
      routes: [
        {
          match: `POST ${API}/tickets`,
          key: { fields: ['ref'] }, // one ticket per incident, whatever else the body says
          // The earlier attempt may have created the ticket: ask the API instead of guessing.
          reconcile: async (ctx) => {
            const res = await lookups.get('lookup', { searchParams: { ref: ctx.request.json.ref } });
            if (res.statusCode === 404) return ctx.absent();
            if (res.statusCode !== 200) return undefined; // cannot tell: stays unknown
            return ctx.found({ status: 201, headers: res.headers, body: res.body });
          },
        },
      ],
    });
    const guarded = got.extend({ prefixUrl: API, retry: RETRY }, idempotency(idem));
    const oncelyResult = summarise('got + oncely (reconcile)', tickets, await openAll(guarded, incidents));

    for (const result of [bareResult, oncelyResult]) log(format(result));
    return { bare: bareResult, oncely: oncelyResult };
  } finally {
    server.close();
  }
}

/**
 * got retries POSTs on 5xx; a lost response from MSW has no error code, so it is retried through
 * `calculateDelay` (what a "retry everything" setup does). It honours `limit`, as a custom
 * `calculateDelay` must: got asks it even when the limit is reached.
 */
const RETRY = {
  limit: 3,
  methods: ['POST'],
  calculateDelay: ({ attemptCount, retryOptions, error, computedValue }) => {
    if (attemptCount > retryOptions.limit) return 0;
    return error.response ? Math.min(computedValue, 1) : 1;
  },
};

async function openAll(client, count) {
  const failed = [];
  for (let n = 1; n <= count; n++) {
    try {
      await client.post('tickets', { json: { ref: `INC-${n}`, title: `incident ${n}` } }).json();
    } catch {
      failed.push(n);
    }
  }
  return { failed };
}

function summarise(label, tickets, { failed }) {
  const stats = tickets.stats();
  return {
    label,
    tickets: stats.writes,
    duplicated: stats.duplicates,
    lostResponses: stats.dropped,
    errors5xx: stats.errors5xx,
    failed: failed.length,
  };
}

function format(r) {
  return `${r.label.padEnd(26)} tickets=${r.tickets} duplicated incidents=${r.duplicated} lost responses=${r.lostResponses} 5xx after create=${r.errors5xx} failed=${r.failed}`;
}

/** mulberry32: a tiny seeded PRNG, so every run gets the same faults. */
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
  process.exitCode = oncely.duplicated === 0 && oncely.failed === 0 ? 0 : 1;
}
