import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createIdempotency, memoryStore } from '@oncely/core';
import { idempotency } from '@oncely/undici';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oncelyFetch } from '../src/oncely-fetch.js';

/** A provider answering every POST with the headers SDKs read, plus two secret ones core never stores. */
let server: Server;
let url: string;
let writes = 0;
beforeAll(async () => {
  server = createServer((incoming, response) => {
    incoming.resume().on('end', () => {
      writes++;
      response.writeHead(201, {
        'content-type': 'application/json; charset=utf-8',
        'request-id': `req_${writes}`,
        'x-request-id': `xreq_${writes}`,
        'x-ratelimit-remaining': '41',
        'x-oauth-scopes': 'chat:write, channels:read',
        link: '<https://example.test/v1/things?page=2>; rel="next"',
        'set-cookie': ['sid=secret', 'other=secret'],
        'x-auth-token': 'secret',
        'x-served-by': ['edge-1', 'edge-2'],
      });
      response.end(JSON.stringify({ id: writes }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const READ = [
  'content-type',
  'request-id',
  'x-request-id',
  'x-ratelimit-remaining',
  'x-oauth-scopes',
  'link',
  'x-served-by',
];
const SECRET = ['set-cookie', 'x-auth-token'];
const idem = () => createIdempotency({ store: memoryStore() });

/** Every header of the live response is on the replay, with its value, except the secret ones. */
function expectKept(live: Record<string, unknown>, replay: Record<string, unknown>) {
  expect(replay['oncely-replayed']).toBe('true');
  for (const name of READ) {
    expect(replay[name], name).toBeDefined();
    expect(replay[name], name).toEqual(live[name]);
  }
  for (const name of SECRET) {
    expect(live[name], name).toBeDefined();
    expect(replay[name], name).toBeUndefined();
  }
  const lost = Object.keys(live).filter((name) => !SECRET.includes(name) && !(name in replay));
  expect(lost).toEqual([]);
}

describe('a replay keeps the headers an SDK reads', () => {
  it('oncelyFetch', async () => {
    const guarded = oncelyFetch(idem());
    const before = writes;
    const post = () => guarded(`${url}/v1/things`, { method: 'POST', body: '{"n":1}' });
    const live = await post();
    const replay = await post();
    expect(writes - before).toBe(1);
    const plain = (headers: Headers) => {
      const out: Record<string, string> = {};
      headers.forEach((value, name) => {
        out[name] = value;
      });
      return out;
    };
    await Promise.all([live.text(), replay.text()]);
    expectKept(plain(live.headers), plain(replay.headers));
  });

  it('the interceptor, with undici.request', async () => {
    const dispatcher = new Agent().compose(idempotency(idem()));
    const before = writes;
    const post = () => request(`${url}/v1/things`, { method: 'POST', body: '{"n":2}', dispatcher });
    const live = await post();
    const replay = await post();
    await Promise.all([live.body.text(), replay.body.text()]);
    expect(writes - before).toBe(1);
    expectKept(live.headers, replay.headers);
    await dispatcher.close();
  });
});
