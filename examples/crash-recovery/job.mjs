// The billing job: charges orders 1..ORDERS through fetch + the oncely dispatcher, recording in
// Redis. Prints one line per order: `<order> <status> <how>` (how = sent | store-replay |
// provider-replay).
// With ONCELY=off it runs bare (no key, no store): what a plain rerun does.
import { createIdempotency } from '@oncely/core';
import { redisStore } from '@oncely/redis';
import { idempotency, isReplayed } from '@oncely/undici';
import { Redis } from 'ioredis';
import { Agent } from 'undici';

const {
  API_URL,
  REDIS_URL = 'redis://127.0.0.1:6379',
  KEY_PREFIX,
  ORDERS = '5',
  ONCELY = 'on',
} = process.env;
const guarded = ONCELY !== 'off';

const client = guarded ? new Redis(REDIS_URL, { maxRetriesPerRequest: 1 }) : undefined;
const store = client ? redisStore({ client, keyPrefix: KEY_PREFIX }) : undefined;
const idem = store
  ? createIdempotency({
      store,
      namespace: 'billing',
      lease: '1s', // a dead owner's claim lapses within a second
      wait: { timeout: '10s' },
      routes: [{ match: `POST ${API_URL}/v1/*`, provider: 'stripe' }],
    })
  : undefined;
const dispatcher = idem ? new Agent().compose(idempotency(idem)) : new Agent();

try {
  for (let n = 1; n <= Number(ORDERS); n++) {
    const order = `order-${n}`;
    const res = await fetch(`${API_URL}/v1/charges`, {
      method: 'POST',
      dispatcher,
      headers: {
        'content-type': 'application/json',
        ...(guarded ? { 'x-oncely-key': `charge-${order}` } : {}),
      },
      body: JSON.stringify({ amount: 1000 + n, currency: 'eur', order }),
    });
    await res.arrayBuffer();
    const how = isReplayed(res)
      ? 'store-replay'
      : res.headers.get('idempotent-replayed') === 'true'
        ? 'provider-replay'
        : 'sent';
    console.log(`${order} ${res.status} ${how}`);
  }
} finally {
  await dispatcher.close();
  await store?.close();
  client?.disconnect();
}
