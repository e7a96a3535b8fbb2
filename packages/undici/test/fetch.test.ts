import { createIdempotency, ErrorCode, memoryStore, PayloadMismatchError } from '@oncely/core';
import { idempotency, oncelyHeaders } from '@oncely/undici';
import { Agent, type BodyInit, type Dispatcher, interceptors, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './support/server.js';

let server: TestServer;
let agent: Dispatcher;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await agent.close();
  await server.close();
});
beforeEach(async () => {
  await agent?.close();
  const idem = createIdempotency({
    store: memoryStore(),
    routes: [{ match: 'POST /native/*', provider: 'stripe' }],
  });
  agent = new Agent().compose(
    idempotency(idem),
    interceptors.retry({ methods: ['POST'], minTimeout: 1, maxTimeout: 1 }),
  );
});

type Fetch = typeof undiciFetch;
/** undici's own fetch, and Node's global fetch (its bundled undici) given our dispatcher. */
const fetches: [string, Fetch][] = [
  ['undici.fetch', undiciFetch],
  ['global fetch', globalThis.fetch as unknown as Fetch],
];

function since(prefix: string) {
  const writes = server.writes(prefix);
  return () => server.writes(prefix) - writes;
}

describe.each(fetches)('%s with the interceptor as dispatcher', (name, fetch) => {
  const post = (path: string, body: BodyInit, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      dispatcher: agent,
      duplex: 'half',
    });

  it('sends a string body once and replays the identical call', async () => {
    const writes = since('/plain/');
    const first = await post('/plain/orders', '{"ref":"f-1"}');
    const second = await post('/plain/orders', '{"ref":"f-1"}');
    expect(first.status).toBe(201);
    expect(first.headers.get('oncely-replayed')).toBeNull();
    expect(second.status).toBe(201);
    expect(second.headers.get('oncely-replayed')).toBe('true');
    expect(await second.json()).toEqual(await first.json());
    expect(writes()).toBe(1);
  });

  it('buffers a streamed body (the async iterable fetch dispatches) and replays it', async () => {
    const stream = () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"ref":'));
          controller.enqueue(new TextEncoder().encode('"f-2"}'));
          controller.close();
        },
      });
    const writes = since('/plain/');
    const first = await post('/plain/orders', stream());
    const second = await post('/plain/orders', stream());
    expect(await first.json()).toMatchObject({ ref: 'f-2' });
    expect(second.headers.get('oncely-replayed')).toBe('true');
    expect(writes()).toBe(1);
    expect(server.received().at(-1)!.body).toBe('{"ref":"f-2"}');
  });

  it('takes control headers and keeps them off the wire', async () => {
    const response = await post('/echo', '{}', oncelyHeaders({ key: 'fetch-key-1' }));
    const echoed = (await response.json()) as { headers: Record<string, string> };
    expect(Object.keys(echoed.headers).some((name) => name.startsWith('x-oncely'))).toBe(false);
    const replay = await post('/echo', '{}', oncelyHeaders({ key: 'fetch-key-1' }));
    expect(replay.headers.get('oncely-replayed')).toBe('true');
  });

  it('rejects with fetch’s TypeError whose cause is the oncely error', async () => {
    await post('/plain/orders', '{"amount":1}', oncelyHeaders({ key: 'fetch-reused' }));
    const sent = server.received().length;
    const failure = await post('/plain/orders', '{"amount":2}', oncelyHeaders({ key: 'fetch-reused' })).catch(
      (e) => e,
    );
    expect(failure).toBeInstanceOf(TypeError);
    expect(failure.cause).toBeInstanceOf(PayloadMismatchError);
    expect(failure.cause.code).toBe(ErrorCode.PayloadMismatch);
    expect(server.received().length).toBe(sent);
  });

  it('lost response on a native route: the retry re-sends the same bytes under the same key, one write', async () => {
    const writes = since('/native/');
    server.fault('drop');
    const response = await post('/native/charges', JSON.stringify({ amount: 9, client: name }));
    expect(response.status).toBe(200);
    expect(response.headers.get('idempotent-replayed')).toBe('true');
    expect(writes()).toBe(1);
    // undici's retry alone would re-send fetch's already drained body as an empty one.
    const [first, second] = server.received().slice(-2);
    expect(second!.body).toBe(first!.body);
    expect(second!.headers['idempotency-key']).toBe(first!.headers['idempotency-key']);
  });

  it('lost response on a plain route: UnknownOutcomeError as the cause, one write', async () => {
    const writes = since('/plain/');
    server.fault('drop');
    const failure = await post('/plain/orders', JSON.stringify({ ref: 'f-3', client: name })).catch((e) => e);
    expect(failure).toBeInstanceOf(TypeError);
    expect(failure.cause.code).toBe(ErrorCode.UnknownOutcome);
    expect(writes()).toBe(1);
  });
});
