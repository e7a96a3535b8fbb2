import { createIdempotency, KeyDerivationError, memoryStore, normaliseTarget } from '@oncely/core';
import { describe, expect, it } from 'vitest';
import { COOKIE, charge } from './helpers.js';

const idem = createIdempotency({ namespace: 'keys', store: memoryStore() });
const keyOf = (...args: Parameters<typeof charge>) => idem.keyFor(charge(...args))!;

describe('key derivation', () => {
  it('is stable across key order, whitespace and object-vs-JSON bodies', () => {
    const base = keyOf({ amount: 100, currency: 'eur', meta: { a: 1, b: 2 } });
    expect(keyOf('{ "currency":"eur",  "meta": {"b":2,"a":1}, "amount": 100 }')).toEqual(base);
    expect(keyOf(Buffer.from('{"meta":{"a":1,"b":2},"amount":100,"currency":"eur"}'))).toEqual(base);
    const fromObject = idem.keyFor({
      ...charge(),
      body: { meta: { b: 2, a: 1 }, currency: 'eur', amount: 100 },
    });
    expect(fromObject).toEqual(base);
  });

  it('changes when a field, the method, the target or the namespace changes', () => {
    const base = keyOf({ amount: 100 }).key;
    expect(keyOf({ amount: 101 }).key).not.toBe(base);
    expect(idem.keyFor(charge({ amount: 100 }, { method: 'PATCH' }))!.key).not.toBe(base);
    expect(idem.keyFor(charge({ amount: 100 }, { url: 'https://api.example.com/v1/refunds' }))!.key).not.toBe(
      base,
    );
    const other = createIdempotency({ namespace: 'other' });
    expect(other.keyFor(charge({ amount: 100 }))!.key).not.toBe(base);
  });

  it('normalises the target: scheme/host case, default port, query order, fragment, credentials', () => {
    expect(normaliseTarget('HTTPS://user:pw@API.Example.com:443/v1/x?b=2&a=1#frag')).toBe(
      'https://api.example.com/v1/x?a=1&b=2',
    );
    expect(normaliseTarget('http://h:8080/p')).toBe('http://h:8080/p');
    const a = idem.keyFor(charge({}, { url: 'https://API.example.com:443/v1/charges?b=2&a=1' }))!;
    const b = idem.keyFor(charge({}, { url: 'https://api.example.com/v1/charges?a=1&b=2' }))!;
    expect(a).toEqual(b);
  });

  it('canonicalises form bodies as sorted pairs', () => {
    const form = (body: string) =>
      idem.keyFor({
        method: 'POST',
        url: 'https://api.example.com/v1/charges',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      })!.key;
    expect(form('b=2&a=1')).toBe(form('a=1&b=2'));
    expect(form('a=1&a=2')).not.toBe(form('a=2&a=1'));
    expect(
      idem.keyFor({
        method: 'POST',
        url: 'https://api.example.com/v1/charges',
        headers: {},
        body: new URLSearchParams('b=2&a=1'),
      })!.key,
    ).toBe(form('a=1&b=2'));
  });

  it('route `fields` pick the identity; the fingerprint still covers the whole body', () => {
    const routed = createIdempotency({
      routes: [{ match: 'POST /v1/charges', key: { fields: ['metadata.order_id'] } }],
    });
    const a = routed.keyFor(charge({ amount: 100, metadata: { order_id: 'o-1' } }))!;
    const b = routed.keyFor(charge({ amount: 250, metadata: { order_id: 'o-1' } }))!;
    const c = routed.keyFor(charge({ amount: 100, metadata: { order_id: 'o-2' } }))!;
    expect(a.key).toBe(b.key);
    expect(a.fingerprint).not.toBe(b.fingerprint);
    expect(a.key).not.toBe(c.key);
    expect(() => routed.keyFor(charge({ amount: 1 }))).toThrow(KeyDerivationError);
  });

  it('route `ignore` leaves volatile fields out of key and fingerprint', () => {
    const routed = createIdempotency({
      routes: [{ match: 'POST https://tickets.example.com/tickets', key: { ignore: ['requested_at'] } }],
    });
    const ticket = (body: object) =>
      routed.keyFor({
        method: 'POST',
        url: 'https://tickets.example.com/tickets',
        headers: { 'content-type': 'application/json' },
        body,
      })!;
    const a = ticket({ title: 'disk full', requested_at: '2026-11-29T10:00:00Z' });
    const b = ticket({ title: 'disk full', requested_at: '2026-11-29T10:05:00Z' });
    expect(a).toEqual(b);
    expect(ticket({ title: 'disk empty', requested_at: 'x' }).key).not.toBe(a.key);
  });

  it('route key functions and explicit keys win over the body; explicit keys are still scoped', () => {
    const routed = createIdempotency({
      routes: [{ match: '/v1/*', key: (req) => `order-${req.headers['x-order']}` }],
    });
    const a = routed.keyFor(
      charge({ amount: 1 }, { headers: { 'x-order': '7', 'content-type': 'application/json' } }),
    )!;
    const b = routed.keyFor(
      charge({ amount: 2 }, { headers: { 'x-order': '7', 'content-type': 'application/json' } }),
    )!;
    expect(a.key).toBe(b.key);
    const explicit = idem.keyFor(charge({ amount: 1 }), { key: 'order-42' })!;
    expect(idem.keyFor(charge({ amount: 9 }), { key: 'order-42' })!.key).toBe(explicit.key);
    const header = idem.keyFor(
      charge(
        { amount: 1 },
        {
          headers: {
            'idempotency-key': 'order-42',
            authorization: 'Bearer sk_live_very_secret_token',
            'content-type': 'application/json',
          },
        },
      ),
    )!;
    expect(header.key).toBe(explicit.key);
    const otherTenant = idem.keyFor(charge({ amount: 1 }, { headers: { authorization: 'Bearer other' } }), {
      key: 'order-42',
    })!;
    expect(otherTenant.key).not.toBe(explicit.key);
  });

  it('a credential change gives a different scope (and key); a custom scope function replaces it', () => {
    const a = keyOf({ amount: 1 });
    const b = idem.keyFor(
      charge({ amount: 1 }, { headers: { 'content-type': 'application/json', cookie: COOKIE } }),
    )!;
    expect(a.key).not.toBe(b.key);
    const tenants = createIdempotency({ scope: (req) => req.headers['x-tenant-id'] });
    const t = (tenant: string, auth: string) =>
      tenants.keyFor(charge({ amount: 1 }, { headers: { 'x-tenant-id': tenant, authorization: auth } }))!.key;
    expect(t('acme', 'Bearer a')).toBe(t('acme', 'Bearer b'));
    expect(t('acme', 'Bearer a')).not.toBe(t('globex', 'Bearer a'));
  });

  // oncely/v2 (scope by pattern, lossless canonical form): the key moved from 8e47d251…; the
  // fingerprint of this body did not (its canonical text is the same under both versions).
  it('golden: the key of a fixed request never changes by accident', () => {
    const golden = createIdempotency({ namespace: 'golden' }).keyFor({
      method: 'POST',
      url: 'https://api.example.com/v1/charges?b=2&a=1',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk_test_golden' },
      body: '{"currency":"eur","amount":1000,"metadata":{"order_id":"o-1"}}',
    });
    expect(golden).toEqual({
      key: 'golden:4cc37f2f8956981fe7563439632327cd96f869bb74ba91fdc2ed9c474603c306',
      fingerprint: 'dadd2681bbd1fdd61403898ce810309ef30f5da41fba3b29276d5ddba367b5c0',
    });
  });
});

describe('hashParts', () => {
  it('is length-prefixed: a|bc and ab|c never collide', async () => {
    const { hashParts } = await import('../src/hash.js');
    expect(hashParts(['a', 'bc'])).not.toBe(hashParts(['ab', 'c']));
    expect(hashParts(['a', 'bc'])).toBe(hashParts(['a', Buffer.from('bc')]));
  });
});

describe('credentials in the query string', () => {
  it('are replaced by a hash in the target: never stored, still scoping the key', async () => {
    const { memoryStore: makeStore } = await import('@oncely/core');
    const store = makeStore();
    const scoped = createIdempotency({ store });
    const url = (key: string) => `https://api.example.com/v1/charges?api_key=${key}&b=1`;
    expect(normaliseTarget(url('sk_live_QUERY_SECRET'))).toMatch(
      /^https:\/\/api\.example\.com\/v1\/charges\?api_key=redacted-[0-9a-f]{16}&b=1$/,
    );
    const a = scoped.keyFor(charge({ amount: 1 }, { url: url('sk_live_QUERY_SECRET') }))!;
    const b = scoped.keyFor(charge({ amount: 1 }, { url: url('sk_live_OTHER') }))!;
    expect(a.key).not.toBe(b.key);
    await scoped.execute(charge({ amount: 1 }, { url: url('sk_live_QUERY_SECRET') }), async () => ({
      status: 201,
      headers: {},
      body: new Uint8Array(),
    }));
    const records: unknown[] = [];
    for await (const record of store.list()) records.push(record);
    expect(records).toHaveLength(1);
    expect(JSON.stringify(records)).not.toContain('QUERY_SECRET');
  });
});
