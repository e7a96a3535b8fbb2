// The nightly job: creates one invoice per customer (1..CUSTOMERS) on an API without idempotency
// keys, through axios + oncely with the shared Redis store. Prints one line per invoice:
// `<ref> <status> <sent | replayed>`. With ONCELY=off it runs bare.
import { withIdempotency } from '@oncely/axios';
import { createIdempotency } from '@oncely/core';
import { redisStore } from '@oncely/redis';
import axios from 'axios';
import { Redis } from 'ioredis';

const {
  API_URL,
  REDIS_URL = 'redis://127.0.0.1:6379',
  KEY_PREFIX,
  CUSTOMERS = '10',
  ONCELY = 'on',
} = process.env;

const client = ONCELY === 'off' ? undefined : new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
const store = client ? redisStore({ client, keyPrefix: KEY_PREFIX }) : undefined;
const http = axios.create({ baseURL: API_URL });
if (store) {
  const idem = createIdempotency({
    store,
    namespace: 'invoices',
    // One invoice per customer and month, whichever process gets there first.
    routes: [{ match: 'POST /invoices', key: { fields: ['ref'] } }],
  });
  withIdempotency(http, idem);
}

try {
  for (let n = 1; n <= Number(CUSTOMERS); n++) {
    const ref = `inv-2026-11-cust-${n}`;
    const res = await http.post('/invoices', { ref, customer: n, amount: 4900 });
    console.log(`${ref} ${res.status} ${res.headers['oncely-replayed'] === 'true' ? 'replayed' : 'sent'}`);
  }
} finally {
  await store?.close();
  client?.disconnect();
}
