import {
  createIdempotency,
  ErrorCode,
  type IdempotencyOptions,
  memoryStore,
  type RouteRule,
  UnknownOutcomeError,
} from '@oncely/core';
import { InterceptorOrderError, idempotency } from '@oncely/undici';
import { Agent, type Dispatcher, interceptors, RetryAgent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './support/server.js';

let server: TestServer;
const agents: Dispatcher[] = [];

beforeAll(async () => {
  server = await startServer();
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.close()));
});
afterAll(async () => {
  await server.close();
});

const retry = () => interceptors.retry({ methods: ['POST'], maxRetries: 3, minTimeout: 1, maxTimeout: 1 });
const native: RouteRule = { match: 'POST /native/*', provider: 'stripe' };

/** oncely inside the retry: compose it first, the retry last (outermost). */
function client(options: IdempotencyOptions = {}) {
  const idem = createIdempotency({ store: memoryStore(), routes: [native], ...options });
  const agent = new Agent().compose(idempotency(idem), retry());
  agents.push(agent);
  return agent;
}

async function post(agent: Dispatcher, path: string, body: unknown) {
  const response = await request(`${server.url}${path}`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.statusCode, headers: response.headers, body: await response.body.json() };
}

function counts(prefix: string) {
  const writes = server.writes(prefix);
  const sent = server.received().length;
  return () => ({ writes: server.writes(prefix) - writes, sent: server.received().length - sent });
}

describe('undici retry interceptor around oncely', () => {
  it('native route, response lost after commit: the retry re-sends under the same key, one write', async () => {
    const since = counts('/native/');
    server.fault('drop');
    const result = await post(client(), '/native/charges', { amount: 100 });
    expect(result.status).toBe(200);
    expect(result.headers['idempotent-replayed']).toBe('true');
    expect(since()).toEqual({ writes: 1, sent: 2 });
    const [first, second] = server.received().slice(-2);
    expect(second!.headers['idempotency-key']).toBe(first!.headers['idempotency-key']);
  });

  it('native route, 500 after commit: the retry gets the committed 200, one write', async () => {
    const since = counts('/native/');
    server.fault('500');
    const result = await post(client(), '/native/refunds', { amount: 3 });
    expect(result.status).toBe(200);
    expect(since()).toEqual({ writes: 1, sent: 2 });
  });

  it('plain route without a hook: the retry is refused with UnknownOutcomeError, one write', async () => {
    const since = counts('/plain/');
    server.fault('drop');
    const failure = await post(client(), '/plain/orders', { ref: 'p-1' }).catch((e) => e);
    expect(failure).toBeInstanceOf(UnknownOutcomeError);
    expect(failure.code).toBe(ErrorCode.UnknownOutcome);
    expect(since()).toEqual({ writes: 1, sent: 1 });
  });

  it('plain route with a reconcile hook: the retry is answered by the lookup, one write', async () => {
    const lookup = new Agent();
    agents.push(lookup);
    const reconciled: RouteRule = {
      match: 'POST /plain/*',
      async reconcile(ctx) {
        const ref = (ctx.request.json as { ref: string }).ref;
        const found = await request(`${server.url}/plain/lookup?ref=${ref}`, { dispatcher: lookup });
        if (found.statusCode === 404) return ctx.absent();
        return ctx.found({ status: 201, body: await found.body.json() });
      },
    };
    const since = counts('/plain/');
    server.fault('drop');
    const result = await post(client({ routes: [reconciled] }), '/plain/orders', { ref: 'p-2' });
    expect(result.status).toBe(201);
    expect(result.body).toMatchObject({ ref: 'p-2' });
    expect(result.headers['oncely-replayed']).toBe('true');
    expect(since().writes).toBe(1);
  });

  it('RetryAgent around the composed agent retries through oncely too: one write', async () => {
    const idem = createIdempotency({ store: memoryStore(), routes: [native] });
    const agent = new RetryAgent(new Agent().compose(idempotency(idem)), {
      methods: ['POST'],
      minTimeout: 1,
      maxTimeout: 1,
    });
    agents.push(agent);
    const since = counts('/native/');
    server.fault('drop');
    const result = await post(agent, '/native/payouts', { amount: 11 });
    expect(result.status).toBe(200);
    expect(since()).toEqual({ writes: 1, sent: 2 });
  });

  /** Each builder registers what must be closed: close() on a composed RetryAgent throws (undici 7.30). */
  const wrongOrders: [string, (oncely: Dispatcher.DispatcherComposeInterceptor) => Dispatcher][] = [
    [
      'the retry interceptor',
      (oncely) => {
        const agent = new Agent().compose(retry(), oncely);
        agents.push(agent);
        return agent;
      },
    ],
    [
      'a RetryAgent',
      (oncely) => {
        const retrying = new RetryAgent(new Agent(), { methods: ['POST'], minTimeout: 1, maxTimeout: 1 });
        agents.push(retrying);
        return retrying.compose(oncely);
      },
    ],
  ];
  it.each(wrongOrders)(
    '%s inside oncely is stopped before its second attempt is written',
    async (name, build) => {
      const wrongOrder = build(idempotency(createIdempotency({ store: memoryStore(), routes: [native] })));
      const since = counts('/plain/');
      server.fault('drop');
      const failure = await post(wrongOrder, '/plain/orders', { ref: `p-3-${name}` }).catch((e) => e);
      expect(failure).toBeInstanceOf(InterceptorOrderError);
      expect(failure.code).toBe(ErrorCode.Config);
      expect(since()).toEqual({ writes: 1, sent: 1 });
    },
  );

  it('a redirect followed below oncely is a new hop, not a retry: allowed, one write', async () => {
    const idem = createIdempotency({ store: memoryStore() });
    const agent = new Agent().compose(interceptors.redirect({ maxRedirections: 2 }), idempotency(idem));
    agents.push(agent);
    const since = counts('/plain/');
    const result = await post(agent, '/moved/orders', { ref: 'moved-1' });
    expect(result.status).toBe(201);
    expect(result.body).toMatchObject({ ref: 'moved-1' });
    expect(since()).toEqual({ writes: 1, sent: 2 });
  });
});
