import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createIdempotency } from '@oncely/core';
import { oncelyFetch } from '@oncely/undici';
import { afterEach, describe, expect, it } from 'vitest';

// A successful event stream reaches the caller as it arrives, and is still recorded whole: the
// server below sends its second event only once the client has read the first, so a body
// buffered whole before the hand-over never gets there (the server gives up after 3 s and
// sends a marker instead).

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

function sseServer(firstRead: Promise<void>) {
  let posts = 0;
  server = createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
      posts++;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'req_1' });
      res.write('data: one\n\n');
      const waited = await Promise.race([
        firstRead.then(() => 'read'),
        new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 3000).unref()),
      ]);
      res.end(waited === 'read' ? 'data: two\n\n' : 'data: buffered-whole\n\n');
    });
  });
  return new Promise<{ url: string; posts: () => number }>((resolve) =>
    server!.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, posts: () => posts }),
    ),
  );
}

describe('event streams pass through while recorded', () => {
  it('the first event reaches the caller before the stream ends; the replay streams the same bytes', async () => {
    let markRead!: () => void;
    const firstRead = new Promise<void>((resolve) => (markRead = resolve));
    const { url, posts } = await sseServer(firstRead);
    const guarded = oncelyFetch(createIdempotency());
    const call = () =>
      guarded(`${url}/v1/chat`, {
        method: 'POST',
        body: '{"stream":true}',
        headers: { 'content-type': 'application/json' },
      });

    const live = await call();
    const reader = live.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    markRead();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
      text += decoder.decode(chunk.value);
    expect(text).toBe('data: one\n\ndata: two\n\n');

    const replay = await call();
    expect(replay.headers.get('oncely-replayed')).toBe('true');
    expect(replay.headers.get('x-request-id')).toBe('req_1');
    expect(await replay.text()).toBe('data: one\n\ndata: two\n\n');
    expect(posts()).toBe(1);
  });
});

describe('an event stream cut short', () => {
  it('the caller aborts after the first event: the outcome is unknown, never a partial replay', async () => {
    let posts = 0;
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        posts++;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: one\n\n'); // and never ends until the client goes away
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat`;
    const guarded = oncelyFetch(createIdempotency());
    const controller = new AbortController();
    const live = await guarded(url, { method: 'POST', body: '{"n":1}', signal: controller.signal });
    const reader = live.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: one\n\n');
    controller.abort();
    await expect(reader.read()).rejects.toBeDefined();

    const again = await guarded(url, { method: 'POST', body: '{"n":1}' });
    // Refused as unknown (422 with the code), not the first event replayed as if it were all.
    expect(again.status).toBe(422);
    expect(again.headers.get('x-oncely-error')).toBe('ONCELY_UNKNOWN_OUTCOME');
    expect(posts).toBe(1);
    server.closeAllConnections();
  });
});
