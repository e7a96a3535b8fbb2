import { Readable } from 'node:stream';
import { RequestError } from 'got';
import { describe, expect, it } from 'vitest';
import { oncely } from '../src/index.js';
import { POST_RETRY, rejection, useFakeServer } from './harness.js';

describe('request bodies', () => {
  const { server: fake, client } = useFakeServer();

  const JSON_TYPE = { 'content-type': 'application/json' };
  const OCTETS = { 'content-type': 'application/octet-stream' };

  it.each([
    [
      'json object, then the same JSON as a string in another key order',
      [{ json: { a: 1, b: { c: 2 } } }, { body: '{"b":{"c":2},"a":1}', headers: JSON_TYPE }],
    ],
    [
      'form, then the same fields in another order',
      [{ form: { a: '1', b: '2' } }, { form: { b: '2', a: '1' } }],
    ],
    [
      'Buffer, then a typed array over the same bytes',
      [
        { body: Buffer.from([1, 2, 3, 4]), headers: OCTETS },
        { body: new Uint8Array([1, 2, 3, 4]), headers: OCTETS },
      ],
    ],
  ] as const)('%s: one write, one replay', async (_, [first, second]) => {
    const got = client();
    const live = await got.post('plain/orders', first);
    const replay = await got.post('plain/orders', second);
    expect([live.isFromCache, replay.isFromCache]).toEqual([false, true]);
    expect(fake().writes()).toBe(1);
  });

  it('the bytes on the wire are the bytes got would send without oncely', async () => {
    const got = client();
    await got.post('plain/orders', { form: { a: '1', b: 'x y' } });
    await got.post('plain/orders', { body: new Uint16Array([258]), headers: OCTETS });
    const [form, typed] = fake().requests();
    expect(form?.body.toString()).toBe('a=1&b=x+y');
    expect(form?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(typed?.body.equals(Buffer.from(new Uint16Array([258]).buffer))).toBe(true);
  });

  it('a different body is a different operation', async () => {
    const got = client();
    await got.post('plain/orders', { json: { amount: 1 } });
    const other = await got.post('plain/orders', { json: { amount: 2 } });
    expect(other.isFromCache).toBe(false);
    expect(fake().writes()).toBe(2);
  });

  describe('one-shot bodies', () => {
    const oneShot = {
      'a Readable stream': () => Readable.from([Buffer.from('{"amount":'), Buffer.from('7}')]),
      'an async generator': () =>
        (async function* () {
          yield '{"amount":';
          yield '7}';
        })(),
      FormData: () => {
        const form = new FormData();
        form.set('amount', '7');
        form.set('file', new Blob(['file-bytes']), 'a.txt');
        return form;
      },
    };

    it.each(Object.entries(oneShot))(
      '%s without a key: ONCELY_KEY_DERIVATION, nothing sent',
      async (_, make) => {
        const error = await rejection(client().post('plain/orders', { body: make(), headers: JSON_TYPE }));
        expect(error).toBeInstanceOf(RequestError);
        expect((error as RequestError).code).toBe('ONCELY_KEY_DERIVATION');
        expect(fake().requests()).toHaveLength(0);
      },
    );

    it.each(Object.entries(oneShot))('%s with a key: sent once, the same call replays', async (_, make) => {
      const got = client();
      const headers = make() instanceof FormData ? {} : JSON_TYPE;
      const context = oncely({ key: 'upload-1' });
      const live = await got.post('plain/orders', { body: make(), headers, context });
      const replay = await got.post('plain/orders', { body: make(), headers, context });
      expect([live.isFromCache, replay.isFromCache]).toEqual([false, true]);
      expect(fake().writes()).toBe(1);
      const sent = fake().requests()[0]!.body.toString();
      expect(sent).toContain(make() instanceof FormData ? 'file-bytes' : '{"amount":7}');
    });

    it('an Idempotency-Key header is an explicit key too', async () => {
      const got = client();
      const headers = { ...JSON_TYPE, 'idempotency-key': 'upload-2' };
      await got.post('plain/orders', { body: oneShot['a Readable stream'](), headers });
      const replay = await got.post('plain/orders', { body: oneShot['a Readable stream'](), headers });
      expect(replay.isFromCache).toBe(true);
      expect(fake().writes()).toBe(1);
    });

    it('a stream with a key survives got retry after a lost response: same bytes re-sent, one write', async () => {
      fake().inject('/native/', { dropAfterCommit: 1 });
      const got = client({ got: POST_RETRY });
      const response = await got.post('native/charges', {
        body: oneShot['a Readable stream'](),
        headers: JSON_TYPE,
        context: oncely({ key: 'charge-stream-1' }),
      });
      expect(response.statusCode).toBe(200);
      expect(fake().writes()).toBe(1);
      const bodies = fake()
        .requests()
        .map((r) => r.body.toString());
      expect(bodies).toEqual(['{"amount":7}', '{"amount":7}']);
    });

    it('a stream over maxBodyBytes: without a key ONCELY_KEY_DERIVATION, nothing sent; with one sent once, unread', async () => {
      const got = client();
      const big = () => Readable.from([Buffer.alloc(3 * 1024 * 1024, 1), Buffer.alloc(3 * 1024 * 1024, 2)]);
      const refused = await rejection(got.post('plain/orders', { body: big(), headers: OCTETS }));
      expect((refused as RequestError).code).toBe('ONCELY_KEY_DERIVATION');
      expect(fake().requests()).toHaveLength(0);
      const sent = await got.post('plain/orders', {
        body: big(),
        headers: OCTETS,
        context: oncely({ key: 'big' }),
      });
      expect(sent.isFromCache).toBe(false);
      expect(fake().requests()[0]?.body.byteLength).toBe(6 * 1024 * 1024);
    });

    it("core's maxBodyBytes is the cap: a 6 MiB stream under a 16 MiB cap is buffered and fingerprinted", async () => {
      const got = client({ idem: { maxBodyBytes: 16 * 1024 * 1024 } });
      const context = oncely({ key: 'capped-1' });
      const stream = (fill: number) =>
        Readable.from([Buffer.alloc(3 * 1024 * 1024, fill), Buffer.alloc(3 * 1024 * 1024)]);
      const live = await got.post('plain/orders', { body: stream(1), headers: OCTETS, context });
      expect(live.isFromCache).toBe(false);
      // Buffered, the bytes are in the fingerprint: other bytes under the same key are another payload.
      const other = await rejection(got.post('plain/orders', { body: stream(2), headers: OCTETS, context }));
      expect((other as RequestError).code).toBe('ONCELY_PAYLOAD_MISMATCH');
      expect(fake().requests()).toHaveLength(1);
    });

    it('a chunk that is neither text nor bytes: ONCELY_CONFIG, nothing sent', async () => {
      const numbers = (async function* () {
        yield 42;
      })();
      const error = await rejection(
        client().post('plain/orders', {
          body: numbers as never,
          headers: OCTETS,
          context: oncely({ key: 'n-1' }),
        }),
      );
      expect((error as RequestError).code).toBe('ONCELY_CONFIG');
      expect(fake().requests()).toHaveLength(0);
    });
  });

  describe('got.stream()', () => {
    it('with a json body: guarded like the promise API', async () => {
      const got = client();
      const read = async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of got.stream.post('plain/orders', { json: { amount: 8 } }))
          chunks.push(chunk);
        return Buffer.concat(chunks).toString();
      };
      const first = await read();
      const second = await read();
      expect(second).toBe(first);
      expect(fake().writes()).toBe(1);
    });

    it('with the body piped in later: ONCELY_CONFIG, nothing sent', async () => {
      const stream = client().stream.post('plain/orders');
      const failed = new Promise<unknown>((resolve) => stream.once('error', resolve));
      stream.end('{"amount":9}');
      const error = await failed;
      expect((error as RequestError).code).toBe('ONCELY_CONFIG');
      expect(fake().requests()).toHaveLength(0);
    });
  });
});
