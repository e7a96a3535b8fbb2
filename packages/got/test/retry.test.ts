import type { ReconcileContext } from '@oncely/core';
import { RequestError } from 'got';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { oncelyErrorOf } from '../src/index.js';
import {
  type FakeServer,
  POST_RETRY,
  ROUTES,
  rejection,
  type Setup,
  setup,
  startFakeServer,
} from './harness.js';

/** got's own retry enabled for POST, against a server that commits the write and then fails. */
describe('got retry for POST after the write committed', () => {
  let server: FakeServer;
  let current: Setup | undefined;

  beforeAll(async () => {
    server = await startFakeServer();
  });
  afterEach(async () => {
    await current?.close();
    current = undefined;
    server.reset();
  });
  afterAll(() => server.close());

  function client(routes = ROUTES) {
    current = setup(server.url, { idem: { routes }, got: POST_RETRY });
    return current.client;
  }

  const sent = (path: string) => server.requests().filter((r) => r.path === path);

  it('native route, response dropped: got retries under the same key, exactly one write', async () => {
    server.inject('/native/', { dropAfterCommit: 1 });
    const response = await client().post('native/charges', { json: { amount: 100 } });
    expect(response.statusCode).toBe(200);
    expect(response.retryCount).toBe(1);
    expect(response.headers['idempotent-replayed']).toBe('true');
    expect(server.writes()).toBe(1);
    const [first, second] = sent('/native/charges');
    expect(second?.headers['idempotency-key']).toBe(first?.headers['idempotency-key']);
    expect(response.body).toBe(JSON.stringify(server.written()[0]?.resource));
  });

  it('native route, 500 after commit: got retries the 500, the provider replays, one write', async () => {
    server.inject('/native/', { error5xxAfterCommit: 1 });
    const body = await client()
      .post('native/charges', { json: { amount: 5 } })
      .json<{ id: string }>();
    expect(body.id).toBe(server.written()[0]?.resource.id);
    expect(server.writes()).toBe(1);
    expect(sent('/native/charges')).toHaveLength(2);
  });

  it.each([
    ['dropped', { dropAfterCommit: 1 }],
    ['500', { error5xxAfterCommit: 1 }],
  ])(
    'plain route, response %s, no hook: got gets UnknownOutcomeError, never a second write',
    async (_, fault) => {
      server.inject('/plain/', fault);
      const error = await rejection(client().post('plain/orders', { json: { amount: 5 } }));
      expect(error).toBeInstanceOf(RequestError);
      expect((error as RequestError).code).toBe('ONCELY_UNKNOWN_OUTCOME');
      expect(oncelyErrorOf(error)?.code).toBe('ONCELY_UNKNOWN_OUTCOME');
      expect(server.writes()).toBe(1);
      expect(sent('/plain/orders')).toHaveLength(1);
    },
  );

  it('plain route with a reconcile hook: the retry finds the write instead of repeating it', async () => {
    const lookups: string[] = [];
    async function reconcile(ctx: ReconcileContext) {
      const ref = (ctx.request.json as { ref: string }).ref;
      lookups.push(ref);
      const res = await fetch(`${server.url}/plain/lookup?ref=${ref}`);
      return res.status === 404 ? ctx.absent() : ctx.found({ status: 201, body: await res.json() });
    }
    server.inject('/plain/', { dropAfterCommit: 1 });
    const response = await client([{ match: 'POST /plain/*', reconcile }]).post('plain/orders', {
      json: { amount: 5, ref: 'r-1' },
    });
    expect(response.statusCode).toBe(201);
    expect(response.isFromCache).toBe(true);
    expect(response.headers['oncely-replayed']).toBe('true');
    expect(JSON.parse(response.body)).toEqual(server.written()[0]?.resource);
    expect(lookups).toEqual(['r-1']);
    expect(server.writes()).toBe(1);
  });

  it('plain route with a hook that finds nothing: the retry re-sends once, one write in all', async () => {
    server.inject('/plain/', { error503BeforeCommit: 1 });
    const reconcile = (ctx: ReconcileContext) => ctx.absent();
    const response = await client([{ match: 'POST /plain/*', reconcile }]).post('plain/orders', {
      json: { amount: 6, ref: 'r-2' },
    });
    expect(response.statusCode).toBe(201);
    expect(response.isFromCache).toBe(false);
    expect(server.writes()).toBe(1);
    expect(sent('/plain/orders')).toHaveLength(2);
  });
});
