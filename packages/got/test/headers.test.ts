import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setup } from './harness.js';

/** A provider answering every POST with the headers SDKs read, plus two secret ones core never stores. */
let server: Server;
let url: string;
let writes = 0;
beforeAll(async () => {
  server = createServer((request, response) => {
    request.resume().on('end', () => {
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

describe('got: a replay keeps the headers an SDK reads', () => {
  it('request-id, x-request-id, content-type… come back; the secret ones are dropped', async () => {
    const { client, close } = setup(url);
    try {
      const live = await client.post('v1/things', { json: { n: 1 } });
      const replay = await client.post('v1/things', { json: { n: 1 } });
      expect(writes).toBe(1);
      expect(replay.headers['oncely-replayed']).toBe('true');
      for (const name of [
        'content-type',
        'request-id',
        'x-request-id',
        'x-ratelimit-remaining',
        'x-oauth-scopes',
        'link',
        'x-served-by',
      ]) {
        expect(replay.headers[name], name).toBeDefined();
        expect(replay.headers[name], name).toEqual(live.headers[name]);
      }
      expect(live.headers['set-cookie']).toBeDefined();
      expect(replay.headers['set-cookie']).toBeUndefined();
      expect(replay.headers['x-auth-token']).toBeUndefined();
      const lost = Object.keys(live.headers).filter(
        (name) => !['set-cookie', 'x-auth-token'].includes(name) && !(name in replay.headers),
      );
      expect(lost).toEqual([]);
    } finally {
      close();
    }
  });
});
