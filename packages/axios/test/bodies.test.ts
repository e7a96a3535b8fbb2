import type { AxiosError } from 'axios';
import { describe, expect, it } from 'vitest';
import { rejection, useFakeServer } from './harness.js';

/** The adapter sees the body after transformRequest: every way of writing one payload is one operation. */
describe('request bodies', () => {
  const { server, client } = useFakeServer();
  const json = { headers: { 'content-type': 'application/json' } };

  it('a JSON object, the same JSON as a string with other key order, and as a Buffer: one write', async () => {
    const { instance } = client();
    const a = await instance.post('/plain/orders', { amount: 1, currency: 'eur' });
    const b = await instance.post('/plain/orders', '{"currency":"eur","amount":1}', json);
    const c = await instance.post('/plain/orders', Buffer.from('{"amount":1,"currency":"eur"}'), json);
    expect([a.oncely?.replayed, b.oncely?.replayed, c.oncely?.replayed]).toEqual([false, true, true]);
    expect(server().writes()).toBe(1);
  });

  it('URLSearchParams and the equivalent form string: one write, sent form-encoded', async () => {
    const { instance } = client();
    const a = await instance.post('/plain/orders', new URLSearchParams({ amount: '1', ref: 'f' }));
    const b = await instance.post('/plain/orders', 'ref=f&amount=1', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(a.data).toMatchObject({ amount: '1', ref: 'f' });
    expect(b.oncely?.replayed).toBe(true);
    expect(server().writes()).toBe(1);
    expect(server().requests()[0]?.headers['content-type']).toMatch(/x-www-form-urlencoded/);
  });

  it("core's maxBodyBytes is the cap: a body over it needs a key (nothing sent without), and is sent once with one", async () => {
    const { instance } = client({}, { maxBodyBytes: 8 });
    const refused = await rejection(instance.post('/plain/orders', { amount: 12345 }));
    expect((refused as AxiosError).oncelyCode).toBe('ONCELY_KEY_DERIVATION');
    expect(server().requests()).toHaveLength(0);
    const keyed = { oncely: { key: 'capped-1' } };
    await instance.post('/plain/orders', { amount: 12345 }, keyed);
    const again = await instance.post('/plain/orders', { amount: 12345 }, keyed);
    expect(again.oncely?.replayed).toBe(true);
    expect(
      server()
        .requests()
        .map((r) => r.body.toString()),
    ).toEqual(['{"amount":12345}']);
  });

  it('a Uint8Array body is guarded by its bytes', async () => {
    const { instance } = client();
    const bytes = new Uint8Array([1, 2, 3]);
    const octets = { headers: { 'content-type': 'application/octet-stream' } };
    await instance.post('/plain/blobs', bytes, octets);
    const again = await instance.post('/plain/blobs', new Uint8Array([1, 2, 3]), octets);
    const other = await instance.post('/plain/blobs', new Uint8Array([1, 2, 4]), octets);
    expect([again.oncely?.replayed, other.oncely?.replayed]).toEqual([true, false]);
    expect(server().writes()).toBe(2);
  });

  it('different basic-auth users never share a key (auth option counts as a credential)', async () => {
    const { instance } = client();
    const as = (username: string) => ({ auth: { username, password: 'pw' } });
    const alice = await instance.post('/plain/orders', { amount: 1 }, as('alice'));
    const bob = await instance.post('/plain/orders', { amount: 1 }, as('bob'));
    const aliceAgain = await instance.post('/plain/orders', { amount: 1 }, as('alice'));
    expect([alice.oncely?.replayed, bob.oncely?.replayed, aliceAgain.oncely?.replayed]).toEqual([
      false,
      false,
      true,
    ]);
    expect(server().writes()).toBe(2);
  });

  it('a provider that takes its key in a body field: the rewritten body goes out with a correct length', async () => {
    const preset = { name: 'body-keyed', carry: { bodyField: 'idempotency_key' } };
    const { instance } = client({}, { routes: [{ match: 'POST /plain/*', provider: preset }] });
    const data = { amount: 1 };
    // A derived key: with an explicit `oncely.key` core does not rewrite the body (reported to the lead).
    const response = await instance.post('/plain/orders', data);
    expect(response.data).toMatchObject({
      amount: 1,
      idempotency_key: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const sent = server().requests()[0];
    expect(Number(sent?.headers['content-length'])).toBe(sent?.body.byteLength);
    expect(data).toEqual({ amount: 1 });
  });

  it('baseURL, url and params make the target: other params, other operation', async () => {
    const { instance } = client();
    await instance.post('/plain/orders', { amount: 1 }, { params: { expand: 'a' } });
    const same = await instance.post('/plain/orders?expand=a', { amount: 1 });
    const other = await instance.post('/plain/orders', { amount: 1 }, { params: { expand: 'b' } });
    expect([same.oncely?.replayed, other.oncely?.replayed]).toEqual([true, false]);
    expect(server().writes()).toBe(2);
  });
});
