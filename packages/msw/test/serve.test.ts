import { request as httpRequest } from 'node:http';
import { type ReceivedRequest, type Served, serve, stripeLike } from '@oncely/msw';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Over real HTTP, with no MSW interception at all: what `undici.request` users need. */
const stripe = stripeLike({ baseUrl: 'https://api.stripe.com' });
let served: Served;
const received: ReceivedRequest[] = [];

beforeAll(async () => {
  served = await serve(stripe.handlers, {
    origin: 'https://api.stripe.com',
    onRequest: (request) => received.push(request),
  });
});
afterAll(() => served.close());

function post(path: string, body: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const req = httpRequest(`${served.url}${path}`, { method: 'POST', headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      });
      req.on('error', reject);
      req.end(body);
    },
  );
}

describe('serve', () => {
  it('answers over loopback HTTP as the emulator would, replay marker included', async () => {
    const headers = { 'content-type': 'application/json', 'idempotency-key': 'k1' };
    const first = await post('/v1/charges', '{"amount":100}', headers);
    const again = await post('/v1/charges', '{"amount":100}', headers);
    expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body)).toMatchObject({ object: 'charges', amount: 100 });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toBe(first.body);
    expect(stripe.stats()).toMatchObject({ writes: 1, replays: 1 });
  });

  it('a lost response closes the socket after the write is committed', async () => {
    stripe.reset();
    stripe.inject({ dropAfterCommit: 1 });
    await expect(post('/v1/charges', '{"amount":1}', { 'idempotency-key': 'k2' })).rejects.toMatchObject({
      code: 'ECONNRESET',
    });
    expect(stripe.stats()).toMatchObject({ writes: 1, dropped: 1 });
  });

  it('onRequest sees every request as it arrived: raw header case, query, body bytes, lost ones too', async () => {
    stripe.reset();
    received.length = 0;
    stripe.inject({ dropAfterCommit: 1 });
    const lost = post('/v1/charges?expand=x', '{"amount":2}', { 'X-Trace': 'abc', 'Idempotency-Key': 'k3' });
    await expect(lost).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request).toMatchObject({ method: 'POST', path: '/v1/charges?expand=x' });
    expect(request?.rawHeaders).toEqual(expect.arrayContaining(['X-Trace', 'abc', 'Idempotency-Key', 'k3']));
    expect(request?.headers['x-trace']).toBe('abc');
    expect(request?.body.toString('utf8')).toBe('{"amount":2}');
  });
});
