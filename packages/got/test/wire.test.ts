import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Setup, setup } from './harness.js';

/** A tiny server for what the shared fake server does not do: gzip, redirects, cookies, echo. */
function startServer() {
  const received: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> =
    [];
  const routes: Record<string, (res: import('node:http').ServerResponse) => void> = {
    'POST /gzip': (res) => {
      const body = gzipSync(JSON.stringify({ ok: true, writes: received.length }));
      res.writeHead(201, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(body);
    },
    'POST /redirect': (res) => res.writeHead(303, { location: '/done' }).end(),
    'GET /done': (res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('done'),
    'POST /cookie': (res) => res.writeHead(201, { 'set-cookie': 'sid=abc; Path=/' }).end('{}'),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const route = routes[`${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`];
      if (route) route(res);
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(received.at(-1)));
    });
  });
  return { server, received };
}

describe('got features around a guarded request', () => {
  const { server, received } = startServer();
  let url = '';
  const open: Setup[] = [];

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((one) => one.close()));
    received.length = 0;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function client(options: Parameters<typeof setup>[1] = {}) {
    const made = setup(url, options);
    open.push(made);
    return made;
  }

  it('a gzip response is decoded once, stored decoded, and replayed with headers that fit the bytes', async () => {
    const { client: got, idem } = client();
    const request = () => got.post('gzip', { json: { a: 1 } }).json<{ ok: boolean; writes: number }>();
    const live = await request();
    const replay = await request();
    expect(live).toEqual({ ok: true, writes: 1 });
    expect(replay).toEqual(live);
    expect(received).toHaveLength(1);
    const { key } = idem.keyFor({
      method: 'POST',
      url: `${url}/gzip`,
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    })!;
    const stored = (await idem.store.get(key))?.response;
    expect(stored?.headers['content-encoding']).toBeUndefined();
    expect(Buffer.from(stored?.body ?? '', 'base64').toString()).toBe(JSON.stringify(live));
  });

  it('a 303 after a POST: got follows it itself; the replayed 303 is followed again, the POST is not repeated', async () => {
    const { client: got } = client();
    const first = await got.post('redirect', { json: { a: 2 } });
    const second = await got.post('redirect', { json: { a: 2 } });
    for (const response of [first, second]) {
      expect(response.body).toBe('done');
      expect(response.redirectUrls.map(String)).toEqual([`${url}/done`]);
    }
    expect(received.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /redirect', 'GET /done', 'GET /done']);
  });

  it('searchParams, basic auth and the cookie jar reach the wire as got sends them', async () => {
    const jar = new Map<string, string>();
    const cookieJar = {
      getCookieString: async () => 'session=s1',
      setCookie: async (raw: string) => void jar.set(raw.split('=')[0]!, raw),
    };
    const { client: got } = client({ got: { username: 'user', password: 'secret', cookieJar } });
    await got.post('echo', { searchParams: { q: 'a b' }, json: { a: 3 } });
    await got.post('cookie', { json: { a: 4 } });
    const replay = await got.post('cookie', { json: { a: 4 } });
    const [echo] = received;
    expect(echo?.url).toBe('/echo?q=a+b');
    expect(echo?.headers.authorization).toBe(`Basic ${Buffer.from('user:secret').toString('base64')}`);
    expect(echo?.headers.cookie).toBe('session=s1');
    expect(echo?.body).toBe('{"a":3}');
    expect([...jar.keys()]).toEqual(['sid']);
    // set-cookie is never stored: a replay does not hand out a session twice.
    expect(replay.isFromCache).toBe(true);
    expect(replay.headers['set-cookie']).toBeUndefined();
    expect(received).toHaveLength(2);
  });
});
