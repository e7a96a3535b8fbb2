import { oncelyFetch } from '@oncely/undici';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { oncelyFor, type Provider, pool, stripeLikeProvider } from './support.js';

// stripe-node puts its own random `Idempotency-Key: stripe-node-retry-<uuid>` on every POST, so a
// re-run of a job is a new write for Stripe. Through oncely the key is derived from the call and
// Stripe sees one stable key across the SDK's retries, job re-runs and concurrent runs.

const OPS = 100;
let provider: Provider;
afterEach(() => provider?.close());

function client(url: string, fetchFn?: typeof fetch) {
  const { hostname, port } = new URL(url);
  return new Stripe('sk_test_oncely', {
    host: hostname,
    port: Number(port),
    protocol: 'http',
    maxNetworkRetries: 5,
    ...(fetchFn ? { httpClient: Stripe.createFetchHttpClient(fetchFn) } : {}),
  });
}

const job = (stripe: Stripe) =>
  pool(OPS, 20, (i) =>
    stripe.customers.create({ email: `c${i}@example.com`, metadata: { order: `o-${i}` } }),
  );

describe('stripe-node 23 through oncelyFetch', () => {
  it('bare: a re-run writes every customer again (the control)', async () => {
    provider = await stripeLikeProvider(0.3);
    const stripe = client(provider.url);
    await job(stripe);
    await job(stripe);
    expect(provider.writes()).toBeGreaterThanOrEqual(OPS * 2);
  });

  it('0 extra writes on a re-run and on two concurrent runs; every operation succeeds', async () => {
    provider = await stripeLikeProvider(0.3);
    const { idem, events } = oncelyFor(provider.url, 'stripe');
    const stripe = client(provider.url, oncelyFetch(idem));

    expect(await job(stripe)).toEqual([]);
    expect(provider.writes()).toBe(OPS);
    expect(await job(stripe)).toEqual([]);
    const [a, b] = await Promise.all([job(stripe), job(client(provider.url, oncelyFetch(idem)))]);
    expect([...a, ...b]).toEqual([]);
    expect(provider.writes()).toBe(OPS);
    expect(events.some((e) => e.type === 'sdk-key-replaced')).toBe(true);
  });

  it("a replay parses as the SDK's own object", async () => {
    provider = await stripeLikeProvider(0);
    const { idem } = oncelyFor(provider.url, 'stripe');
    const stripe = client(provider.url, oncelyFetch(idem));
    const first = await stripe.customers.create({ email: 'r@example.com' });
    const again = await stripe.customers.create({ email: 'r@example.com' });
    expect(again.id).toBe(first.id);
    // stripe-node's fetch client hands the fetch Headers through as they are.
    const headers = again.lastResponse.headers as unknown as Headers;
    expect(headers.get('oncely-replayed')).toBe('true');
    expect(headers.get('request-id')).toBe(first.lastResponse.requestId);
    expect(provider.writes()).toBe(1);
  });
});
