import { Readable } from 'node:stream';
import {
  createIdempotency,
  ErrorCode,
  type Idempotency,
  KeyDerivationError,
  memoryStore,
  PayloadMismatchError,
} from '@oncely/core';
import { idempotency, oncelyHeaders } from '@oncely/undici';
import { Agent, type Dispatcher, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './support/server.js';

let server: TestServer;
let idem: Idempotency;
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
  idem = createIdempotency({
    store: memoryStore(),
    routes: [{ match: 'POST /native/*', provider: 'stripe' }],
  });
  agent = new Agent().compose(idempotency(idem));
});

const json = { 'content-type': 'application/json' };

async function post(path: string, body: unknown, options: Partial<Dispatcher.RequestOptions> = {}) {
  const response = await request(`${server.url}${path}`, {
    method: 'POST',
    dispatcher: agent,
    headers: json,
    body: JSON.stringify(body),
    ...options,
  });
  return { status: response.statusCode, headers: response.headers, body: await response.body.json() };
}

describe('undici.request through the interceptor', () => {
  it('sends a write once and replays the identical call without dispatching', async () => {
    const before = server.writes('/plain/');
    const first = await post('/plain/orders', { ref: 'r-1', amount: 5 });
    const second = await post('/plain/orders', { ref: 'r-1', amount: 5 });
    expect(first.status).toBe(201);
    expect(first.headers['oncely-replayed']).toBeUndefined();
    expect(second).toEqual({ ...first, headers: { ...first.headers, 'oncely-replayed': 'true' } });
    expect(server.writes('/plain/') - before).toBe(1);
  });

  it('puts the provider key on the wire for a native route', async () => {
    await post('/native/charges', { amount: 7 });
    const sent = server.received().at(-1)!;
    expect(sent.headers['idempotency-key']).toMatch(/\S+/);
  });

  it('takes the key from the `oncely` option and never sends the option', async () => {
    const before = server.writes('/plain/');
    await post('/plain/orders', { n: 1 }, { oncely: { key: 'order-77' } });
    const replay = await post('/plain/orders', { n: 1 }, { oncely: { key: 'order-77' } });
    expect(replay.headers['oncely-replayed']).toBe('true');
    expect(server.writes('/plain/') - before).toBe(1);
    expect(JSON.stringify(server.received().at(-1))).not.toContain('oncely');
  });

  it('reads control headers, then strips every x-oncely-* header before the wire', async () => {
    const headers = { ...json, ...oncelyHeaders({ key: 'ünïcode key' }), 'X-Custom': 'kept' };
    const first = await post('/echo', { a: 1 }, { headers });
    const second = await post('/echo', { a: 1 }, { headers });
    expect(second.headers['oncely-replayed']).toBe('true');
    const wire = (first.body as { headers: Record<string, string> }).headers;
    expect(Object.keys(wire).filter((name) => name.startsWith('x-oncely'))).toEqual([]);
    expect(wire['x-custom']).toBe('kept');
  });

  it('skip sends the request unguarded and without the control header', async () => {
    const before = server.writes('/plain/');
    const headers = { ...json, ...oncelyHeaders({ skip: true }) };
    await post('/plain/orders', { n: 2 }, { headers });
    const again = await post('/plain/orders', { n: 2 }, { oncely: { skip: true } });
    expect(again.headers['oncely-replayed']).toBeUndefined();
    expect(server.writes('/plain/') - before).toBe(2);
    expect(server.received().at(-2)!.headers['x-oncely-skip']).toBeUndefined();
  });

  it('leaves an unguarded GET untouched: same options object, no store call', async () => {
    const seen: Dispatcher.DispatchOptions[] = [];
    const spy: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => {
      seen.push(opts);
      return dispatch(opts, handler);
    };
    let storeCalls = 0;
    const store = memoryStore();
    const counted = new Proxy(store, {
      get: (target, name) => {
        const value = Reflect.get(target, name);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          storeCalls++;
          return value.apply(target, args);
        };
      },
    });
    const client = new Agent().compose(spy, idempotency(createIdempotency({ store: counted })));
    storeCalls = 0; // creating the engine subscribes to the store's expiry notifications
    const options = {
      origin: server.url,
      path: '/echo?x=1',
      method: 'GET',
      headers: ['X-A', '1', 'x-b', '2'],
    };
    await (await client.request(options)).body.dump();
    await client.close();
    const guardedWire = server.received().at(-1)!;
    const plain = new Agent();
    await (await plain.request(options)).body.dump();
    await plain.close();
    const plainWire = server.received().at(-1)!;
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBe(options);
    expect(guardedWire.rawHeaders).toEqual(plainWire.rawHeaders);
    expect(guardedWire.rawHeaders).toEqual(expect.arrayContaining(['X-A', 'x-b']));
    expect({ ...guardedWire, rawHeaders: [] }).toEqual({ ...plainWire, rawHeaders: [] });
    expect(storeCalls).toBe(0);
  });

  it('passes headers given as a one-shot iterator on intact', async () => {
    const headers = (function* () {
      yield ['x-from-generator', 'yes'] as [string, string];
    })();
    const response = await request(`${server.url}/echo`, { dispatcher: agent, headers });
    const echoed = (await response.body.json()) as { headers: Record<string, string> };
    expect(echoed.headers['x-from-generator']).toBe('yes');
  });

  it('never mutates the caller’s options', async () => {
    const headers = { ...json, 'x-oncely-key': 'frozen-1' };
    const options = { method: 'POST' as const, dispatcher: agent, headers, body: '{"z":1}' };
    const snapshot = structuredClone({ headers, body: options.body });
    await (await request(`${server.url}/native/charges`, options)).body.dump();
    expect({ headers: options.headers, body: options.body }).toEqual(snapshot);
  });

  it('raises PayloadMismatchError itself, with its code, and sends nothing', async () => {
    await post('/plain/orders', { amount: 1 }, { oncely: { key: 'reused' } });
    const before = server.received().length;
    const failure = await post('/plain/orders', { amount: 2 }, { oncely: { key: 'reused' } }).catch((e) => e);
    expect(failure).toBeInstanceOf(PayloadMismatchError);
    expect(failure.code).toBe(ErrorCode.PayloadMismatch);
    expect(server.received().length).toBe(before);
  });

  it('refuses a stream body without a key (nothing sent) and sends it once with one', async () => {
    const before = server.received().length;
    const unsent = Readable.from([Buffer.from('chunk-a'), Buffer.from('chunk-b')]);
    const refused = await request(`${server.url}/plain/uploads`, {
      method: 'POST',
      dispatcher: agent,
      body: unsent,
    }).catch((e) => e);
    expect(refused).toBeInstanceOf(KeyDerivationError);
    expect(server.received().length).toBe(before);

    const keyed = await request(`${server.url}/plain/uploads`, {
      method: 'POST',
      dispatcher: agent,
      body: Readable.from([Buffer.from('chunk-a'), Buffer.from('chunk-b')]),
      oncely: { key: 'upload-1' },
    });
    expect(keyed.statusCode).toBe(201);
    await keyed.body.dump();
    expect(server.received().at(-1)!.body).toBe('chunk-achunk-b');

    // A replay sends nothing: the stream it never read is closed, not left open.
    const unread = Readable.from([Buffer.from('chunk-a'), Buffer.from('chunk-b')]);
    const replay = await request(`${server.url}/plain/uploads`, {
      method: 'POST',
      dispatcher: agent,
      body: unread,
      oncely: { key: 'upload-1' },
    });
    await replay.body.dump();
    expect(replay.headers['oncely-replayed']).toBe('true');
    expect(unread.destroyed).toBe(true);
  });

  it('buffers an iterable body and fingerprints its bytes', async () => {
    const before = server.writes('/plain/');
    const send = () =>
      request(`${server.url}/plain/orders`, {
        method: 'POST',
        dispatcher: agent,
        headers: json,
        body: (function* () {
          yield '{"ref":';
          yield Buffer.from('"iter"}');
        })() as unknown as string,
      });
    const first = await send();
    const second = await send();
    expect(await first.body.json()).toEqual(await second.body.json());
    expect(second.headers['oncely-replayed']).toBe('true');
    expect(server.writes('/plain/') - before).toBe(1);
    expect(server.received().at(-1)!.body).toBe('{"ref":"iter"}');
  });

  it('reports a malformed control header as a ConfigError before sending', async () => {
    const before = server.received().length;
    const failure = await post('/plain/orders', {}, { headers: { ...json, 'x-oncely-kye': 'typo' } }).catch(
      (e) => e,
    );
    expect(failure.code).toBe(ErrorCode.Config);
    expect(server.received().length).toBe(before);
  });
});
