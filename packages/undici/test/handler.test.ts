import { createIdempotency, ErrorCode, InFlightTimeoutError, memoryStore } from '@oncely/core';
import { idempotency } from '@oncely/undici';
import { Agent, Client, type Dispatcher, MockAgent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.close();
});

/** A new-API handler that writes down every callback it gets. */
function recordingHandler() {
  const calls: string[] = [];
  let body = '';
  let settle: { resolve: () => void; reject: (error: Error) => void } | undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart: () => calls.push('onRequestStart'),
    onResponseStart: (_c, status, headers) =>
      calls.push(`onResponseStart ${status} ${headers['oncely-replayed']}`),
    onResponseData: (_c, chunk) => {
      calls.push('onResponseData');
      body += chunk.toString();
    },
    onResponseEnd: () => {
      calls.push('onResponseEnd');
      settle!.resolve();
    },
    onResponseError: (_c, error) => {
      calls.push('onResponseError');
      settle!.reject(error);
    },
  };
  return { calls, done, handler, body: () => body };
}

/** An inner layer that counts what reaches the network. */
function counting() {
  const seen: Dispatcher.DispatchOptions[] = [];
  const layer: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => {
    seen.push(opts);
    return dispatch(opts, handler);
  };
  return { seen, layer };
}

const post = (path: string, body: string): Dispatcher.DispatchOptions => ({
  origin: server.url,
  path,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body,
});

describe('the handler contract', () => {
  it('declares exactly two parameters, as undici 6 and 8 require of interceptors', () => {
    const dispatch = idempotency(createIdempotency())(() => true);
    expect(dispatch.length).toBe(2);
  });

  it('replays like undici’s cache interceptor: start, response, data, end — and no dispatch', async () => {
    const { seen, layer } = counting();
    const agent = new Agent().compose(layer, idempotency(createIdempotency({ store: memoryStore() })));
    const live = recordingHandler();
    agent.dispatch(post('/plain/handler', '{"ref":"h-1"}'), live.handler);
    await live.done;
    const replay = recordingHandler();
    agent.dispatch(post('/plain/handler', '{"ref":"h-1"}'), replay.handler);
    await replay.done;
    await agent.close();
    expect(seen).toHaveLength(1);
    expect(replay.calls).toEqual([
      'onRequestStart',
      'onResponseStart 201 true',
      'onResponseData',
      'onResponseEnd',
    ]);
    expect(replay.body()).toBe(live.body());
  });

  it('hands a large replay over intact, in slices', async () => {
    const idem = createIdempotency({ store: memoryStore() });
    const agent = new Agent().compose(idempotency(idem));
    const big = JSON.stringify({ ref: 'big', pad: 'x'.repeat(300_000) });
    const live = await request(`${server.url}/plain/big`, { method: 'POST', dispatcher: agent, body: big });
    const liveText = await live.body.text();
    const replay = await request(`${server.url}/plain/big`, { method: 'POST', dispatcher: agent, body: big });
    expect(await replay.body.text()).toBe(liveText);
    expect(replay.headers['oncely-replayed']).toBe('true');
    await agent.close();
  });

  it('stops handing over data while the caller is paused', async () => {
    const idem = createIdempotency({ store: memoryStore() });
    const agent = new Agent().compose(idempotency(idem));
    const big = JSON.stringify({ ref: 'paused', pad: 'y'.repeat(200_000) });
    await (
      await request(`${server.url}/plain/paused`, { method: 'POST', dispatcher: agent, body: big })
    ).body.dump();
    const events: string[] = [];
    const finished = new Promise<void>((resolve, reject) => {
      agent.dispatch(
        { origin: server.url, path: '/plain/paused', method: 'POST', body: big },
        {
          onRequestStart() {}, // marks a new-API handler (undici wraps handlers without it as legacy)
          onResponseData(controller) {
            events.push('data');
            if (events.length !== 1) return;
            controller.pause();
            events.push('pause');
            // Resume on a later turn: the replay must deliver nothing in between.
            setImmediate(() => {
              events.push('resume');
              controller.resume();
            });
          },
          onResponseEnd: () => resolve(),
          onResponseError: (_c, error) => reject(error),
        },
      );
    });
    await finished;
    await agent.close();
    expect(events.slice(0, 4)).toEqual(['data', 'pause', 'resume', 'data']);
    expect(events.filter((e) => e === 'data').length).toBeGreaterThan(2);
  });

  it('passes the caller’s abort to core: a call waiting on its twin stops with the abort reason', async () => {
    let waitingStarted: () => void = () => {};
    const waiting = new Promise<void>((resolve) => {
      waitingStarted = resolve;
    });
    const idem = createIdempotency({
      store: memoryStore(),
      wait: { timeout: '10s' },
      onEvent: (event) => event.type === 'waiting' && waitingStarted(),
    });
    const { key, fingerprint } = idem.keyFor({
      method: 'POST',
      url: `${server.url}/plain/held`,
      headers: { 'content-type': 'application/json' },
      body: '{"ref":"held"}',
    })!;
    // Another process holds the key: this call has to wait for it.
    await idem.store.reserve({
      key,
      scope: 'other',
      fingerprint,
      method: 'POST',
      target: 'x',
      owner: 'twin',
      leaseMs: 60_000,
      ttlMs: 60_000,
    });
    const agent = new Agent().compose(idempotency(idem));
    const abort = new AbortController();
    const pending = request(`${server.url}/plain/held`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json' },
      body: '{"ref":"held"}',
      signal: abort.signal,
    }).catch((error: unknown) => error);
    await waiting; // core is now waiting for the twin
    abort.abort(new Error('caller gave up'));
    const failure = await pending;
    expect(failure).not.toBeInstanceOf(InFlightTimeoutError);
    expect((failure as Error).message).toBe('caller gave up');
    expect(server.received().filter((r) => r.path === '/plain/held')).toHaveLength(0);
    await agent.close();
  });

  it('works over MockAgent, which is how to test without a server (MSW does not see undici)', async () => {
    const mock = new MockAgent();
    mock.disableNetConnect();
    mock
      .get('http://api.example.test')
      .intercept({ path: '/v1/charges', method: 'POST' })
      .reply(200, { id: 'ch_1' }, { headers: { 'content-type': 'application/json' } })
      .times(1);
    const agent = mock.compose(
      idempotency(
        createIdempotency({ store: memoryStore(), routes: [{ match: '/v1/*', provider: 'stripe' }] }),
      ),
    );
    const call = () =>
      request('http://api.example.test/v1/charges', { method: 'POST', dispatcher: agent, body: 'amount=5' });
    const first = await call();
    const second = await call(); // a second dispatch would find no interceptor left and fail
    expect(await first.body.json()).toEqual({ id: 'ch_1' });
    expect(await second.body.json()).toEqual({ id: 'ch_1' });
    expect(second.headers['oncely-replayed']).toBe('true');
    mock.assertNoPendingInterceptors();
    await mock.close();
  });

  it('refuses a guarded call without an origin (a bare Client): no absolute URL to key on, nothing sent', async () => {
    const client = new Client(server.url).compose(idempotency(createIdempotency({ store: memoryStore() })));
    const sent = server.received().length;
    const failure = await client
      .request({ path: '/plain/no-origin', method: 'POST', body: '{}' })
      .catch((e) => e);
    expect(failure.code).toBe(ErrorCode.KeyDerivation);
    expect(server.received().length).toBe(sent);
    const get = await client.request({ path: '/echo', method: 'GET' });
    expect(get.statusCode).toBe(200); // unguarded requests still go through
    await get.body.dump();
    await client.close();
  });

  it('refuses an over-cap iterable body without a key, and sends it once under a key', async () => {
    const idem = createIdempotency({ store: memoryStore() });
    const agent = new Agent().compose(idempotency(idem, { maxBodyBytes: 8 }));
    const chunks = () =>
      (function* () {
        yield 'sixteen ';
        yield 'bytes!!!';
      })();
    const sent = server.received().length;
    const refused = await request(`${server.url}/plain/capped`, {
      method: 'POST',
      dispatcher: agent,
      body: chunks() as unknown as string,
    }).catch((e) => e);
    expect(refused.code).toBe(ErrorCode.KeyDerivation);
    expect(server.received().length).toBe(sent);
    const keyed = await request(`${server.url}/plain/capped`, {
      method: 'POST',
      dispatcher: agent,
      body: chunks() as unknown as string,
      oncely: { key: 'capped-1' },
    });
    await keyed.body.dump();
    expect(server.received().at(-1)!.body).toBe('sixteen bytes!!!');
    await agent.close();
  });

  it("takes core's maxBodyBytes as the cap when the plugin is given none", async () => {
    const idem = createIdempotency({ store: memoryStore(), maxBodyBytes: 8 });
    const agent = new Agent().compose(idempotency(idem));
    const chunks = (text: string) =>
      (function* () {
        yield text.slice(0, 8);
        yield text.slice(8);
      })();
    const post = (body: Iterable<string>, key?: string) =>
      request(`${server.url}/plain/core-capped`, {
        method: 'POST',
        dispatcher: agent,
        body: body as unknown as string,
        ...(key === undefined ? {} : { oncely: { key } }),
      });
    const sent = server.received().length;
    const refused = await post(chunks('sixteen bytes!!!')).catch((e) => e);
    expect(refused.code).toBe(ErrorCode.KeyDerivation);
    expect(server.received().length).toBe(sent);
    const keyed = await post(chunks('sixteen bytes!!!'), 'core-capped-1');
    await keyed.body.dump();
    expect(server.received().at(-1)!.body).toBe('sixteen bytes!!!');
    await agent.close();
  });
});
