import { createIdempotency, memoryStore } from '@oncely/core';
import axios from 'axios';
import { describe, expect, it } from 'vitest';
import { withIdempotency } from '../src/index.js';
import { useFakeServer } from './harness.js';

/** Two tenants sending the same body must never share a key: the second is sent, not replayed. */
describe('tenancy through the axios plugin', () => {
  const { server } = useFakeServer();

  function instance() {
    const idem = createIdempotency({
      namespace: 'axios-tenancy',
      store: memoryStore(),
      routes: [{ match: 'POST /native/*', provider: 'stripe' }],
    });
    return withIdempotency(axios.create(), idem);
  }

  it('URL userinfo tenantA vs tenantB: 2 requests reach the server, no replay', async () => {
    const client = instance();
    const { port } = new URL(server().url);
    const a = await client.post(`http://tenantA:pw@127.0.0.1:${port}/plain/v1/x`, { amount: 1 });
    const b = await client.post(`http://tenantB:pw@127.0.0.1:${port}/plain/v1/x`, { amount: 1 });
    expect(a.headers['oncely-replayed']).toBeUndefined();
    expect(server().requests()).toHaveLength(2);
    expect(b.headers['oncely-replayed']).toBeUndefined();
    expect(b.oncely?.replayed).toBe(false);
  });

  it('Stripe-Account acct_A vs acct_B: 2 requests reach the server, no replay', async () => {
    const client = instance();
    const url = `${server().url}/native/v1/charges`;
    const headers = (account: string) => ({
      authorization: 'Bearer sk_test_platform',
      'stripe-account': account,
    });
    await client.post(url, { amount: 1 }, { headers: headers('acct_A') });
    const b = await client.post(url, { amount: 1 }, { headers: headers('acct_B') });
    expect(server().requests()).toHaveLength(2);
    expect(b.headers['oncely-replayed']).toBeUndefined();
    expect(b.oncely?.replayed).toBe(false);
  });
});
