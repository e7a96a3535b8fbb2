import {
  createIdempotency,
  type Idempotency,
  type IdempotencyStore,
  memoryStore,
  type ReconcileContext,
  type RouteRule,
} from '@oncely/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { countingStore } from '../support/counting-store.js';
import { type FakeServer, type ReceivedRequest, startFakeServer } from '../support/fake-server.js';
import type { ClientDriver, DriverClient, NativeErrorShape } from './driver.js';

/**
 * The shared conformance suite: the seven guarantees every plugin gives, against the real fake
 * server of `test/support/fake-server.ts`. Routes: `POST /native/*` uses the Stripe preset (the
 * server deduplicates by `Idempotency-Key`); `/plain/*` has no native keys; `/plain/hooked/*`
 * additionally has a reconcile hook that looks the resource up by `ref`.
 */
export function runConformance(driver: ClientDriver, errors: NativeErrorShape): void {
  describe(`conformance: ${driver.name}`, () => {
    let server: FakeServer;
    const open: DriverClient[] = [];
    const idems: Idempotency[] = [];

    beforeAll(async () => {
      server = await startFakeServer();
    });
    afterEach(async () => {
      await Promise.all(open.splice(0).map((client) => client.close()));
      await Promise.all(idems.splice(0).map((idem) => idem.close()));
      server.reset();
    });
    afterAll(async () => {
      await server.close();
    });

    /** The reconcile hook of `/plain/hooked/*`: found by `ref`, absent on 404, undecided otherwise. */
    async function lookupByRef(ctx: ReconcileContext) {
      const ref = (ctx.request.json as { ref?: string } | undefined)?.ref;
      if (ref === undefined) return undefined;
      const res = await fetch(`${server.url}/plain/lookup?ref=${encodeURIComponent(ref)}`);
      if (res.status === 404) return ctx.absent();
      if (res.status !== 200) return undefined;
      return ctx.found({ status: 201, body: await res.json() });
    }

    function setup(options: { retries?: number; store?: IdempotencyStore } = {}) {
      const routes: RouteRule[] = [
        { match: 'POST /native/*', provider: 'stripe' },
        { match: 'POST /plain/hooked/*', reconcile: lookupByRef },
      ];
      const store = options.store ?? memoryStore();
      const idem = createIdempotency({ store, routes, namespace: `conformance-${driver.name}` });
      const client = driver.create(idem, { baseUrl: server.url, retries: options.retries ?? 0 });
      idems.push(idem);
      open.push(client);
      return { idem, client, store };
    }

    function bare(retries = 0) {
      const client = driver.bare({ baseUrl: server.url, retries });
      open.push(client);
      return client;
    }

    const sentTo = (path: string) => server.requests().filter((r) => r.path === path);

    async function rejection(promise: Promise<unknown>): Promise<unknown> {
      try {
        await promise;
      } catch (error) {
        return error;
      }
      throw new Error('expected the call to reject, it resolved');
    }

    describe('1. retry after a lost response', () => {
      it('native-key route: the client retry re-sends under the same key, exactly one write', async () => {
        const { client } = setup({ retries: 2 });
        server.inject('/native/', { dropAfterCommit: 1 });
        const response = await client.request('POST', '/native/charges', { amount: 100, ref: 'n1' });
        expect(response.status).toBe(200);
        expect(response.headers['idempotent-replayed']).toBe('true');
        expect(server.writes('/native/')).toBe(1);
        expect((response.body as { id: string }).id).toBe(server.written('/native/')[0]?.resource.id);
        const sent = sentTo('/native/charges');
        expect(sent).toHaveLength(2);
        expect(sent[0]?.headers['idempotency-key']).toBeDefined();
        expect(sent[1]?.headers['idempotency-key']).toBe(sent[0]?.headers['idempotency-key']);
      });

      it('plain route without a hook: UnknownOutcomeError as the client error, never a second write', async () => {
        const { client } = setup({ retries: 2 });
        server.inject('/plain/', { dropAfterCommit: 1 });
        const error = await rejection(client.request('POST', '/plain/orders', { amount: 5, ref: 'p1' }));
        expect(errors.isNative(error)).toBe(true);
        expect(errors.oncelyCode(error)).toBe('ONCELY_UNKNOWN_OUTCOME');
        expect(server.writes('/plain/')).toBe(1);
        expect(sentTo('/plain/orders')).toHaveLength(1);
      });

      it('plain route with a reconcile hook: the lost write is found, not repeated', async () => {
        const { client } = setup({ retries: 2 });
        server.inject('/plain/', { dropAfterCommit: 1 });
        const response = await client.request('POST', '/plain/hooked/orders', { amount: 5, ref: 'h1' });
        expect(response.status).toBe(201);
        expect(response.replayed).toBe(true);
        expect(response.body).toEqual(server.written('/plain/')[0]?.resource);
        expect(server.writes('/plain/')).toBe(1);
        expect(sentTo('/plain/hooked/orders')).toHaveLength(1);
      });

      it('5xx after commit on a native route: the next call re-sends under the key and gets the replay', async () => {
        const { client } = setup();
        server.inject('/native/', { error5xxAfterCommit: 1 });
        const first = await client.request('POST', '/native/charges', { amount: 7, ref: 'n5' });
        expect(first.status).toBe(500);
        const second = await client.request('POST', '/native/charges', { amount: 7, ref: 'n5' });
        expect(second.status).toBe(200);
        expect(second.headers['idempotent-replayed']).toBe('true');
        expect(server.writes('/native/')).toBe(1);
      });

      it('5xx after commit on a plain route: the next call is refused with UnknownOutcomeError', async () => {
        const { client } = setup();
        server.inject('/plain/', { error5xxAfterCommit: 1 });
        const first = await client.request('POST', '/plain/orders', { amount: 7, ref: 'p5' });
        expect(first.status).toBe(500);
        const error = await rejection(client.request('POST', '/plain/orders', { amount: 7, ref: 'p5' }));
        expect(errors.oncelyCode(error)).toBe('ONCELY_UNKNOWN_OUTCOME');
        expect(server.writes('/plain/')).toBe(1);
        expect(sentTo('/plain/orders')).toHaveLength(1);
      });
    });

    describe('2. concurrent identical calls', () => {
      it.each(['/native/charges', '/plain/orders'])(
        '50 concurrent calls to %s: one write, 49 native-looking replays',
        async (path) => {
          const { client } = setup();
          server.inject(path, { delayMs: 100 });
          const body = { amount: 42, ref: `c-${path}` };
          const responses = await Promise.all(
            Array.from({ length: 50 }, () => client.request('POST', path, body)),
          );
          expect(server.writes(path)).toBe(1);
          const id = server.written(path)[0]?.resource.id;
          expect(responses.filter((r) => r.replayed)).toHaveLength(49);
          for (const response of responses) {
            expect(response.status).toBe(path.startsWith('/native/') ? 200 : 201);
            expect(response.body).toMatchObject({ id, amount: 42 });
          }
          for (const replay of responses.filter((r) => r.replayed)) {
            expect(replay.headers['oncely-replayed']).toBe('true');
          }
        },
      );
    });

    describe('3. same explicit key, different payload', () => {
      it.each(['/plain/orders', '/native/charges'])(
        '%s: refused by the store as a client-native ONCELY_PAYLOAD_MISMATCH, nothing sent',
        async (path) => {
          const { client } = setup();
          await client.request('POST', path, { amount: 1 }, { key: 'order-42' });
          const sentBefore = server.requests().length;
          const error = await rejection(client.request('POST', path, { amount: 2 }, { key: 'order-42' }));
          expect(errors.isNative(error)).toBe(true);
          expect(errors.oncelyCode(error)).toBe('ONCELY_PAYLOAD_MISMATCH');
          expect(server.writes(path)).toBe(1);
          expect(server.requests()).toHaveLength(sentBefore);
        },
      );

      it('native route, fresh store: the provider refuses the key, the client error says ONCELY_PAYLOAD_MISMATCH', async () => {
        await setup().client.request('POST', '/native/charges', { amount: 1 }, { key: 'order-43' });
        const { client } = setup(); // another process: its store never saw the key
        const error = await rejection(
          client.request('POST', '/native/charges', { amount: 2 }, { key: 'order-43' }),
        );
        expect(errors.isNative(error)).toBe(true);
        expect(errors.oncelyCode(error)).toBe('ONCELY_PAYLOAD_MISMATCH');
        expect(server.writes('/native/')).toBe(1);
      });
    });

    describe('4. replay after the client is re-created', () => {
      it('a new client and Idempotency on the same store replays without a write', async () => {
        const store = memoryStore();
        const first = await setup({ store }).client.request('POST', '/plain/orders', {
          amount: 9,
          ref: 'r1',
        });
        expect(first.replayed).toBe(false);
        const again = await setup({ store }).client.request('POST', '/plain/orders', {
          amount: 9,
          ref: 'r1',
        });
        expect(again.replayed).toBe(true);
        expect(again.status).toBe(201);
        expect(again.body).toEqual(first.body);
        expect(again.headers['oncely-replayed']).toBe('true');
        expect(server.writes('/plain/')).toBe(1);
        expect(sentTo('/plain/orders')).toHaveLength(1);
      });
    });

    describe('5. unguarded requests pass through untouched', () => {
      const calls: Array<[string, string, unknown]> = [
        ['GET', '/echo?x=1', undefined],
        ['PUT', '/echo', { amount: 3 }],
        ['DELETE', '/echo?id=7', undefined],
      ];
      it.each(calls)(
        '%s %s: byte-identical to the bare client, no store call',
        async (method, path, body) => {
          const counting = countingStore(memoryStore());
          const { client } = setup({ store: counting.store });
          const headers = { 'x-trace': 'abc' };
          const callsBefore = counting.total();
          const viaPlugin = await client.request(method, path, body, { headers });
          expect(counting.total()).toBe(callsBefore);
          expect(server.requests()).toHaveLength(1);
          const viaBare = await bare().request(method, path, body, { headers });
          expect(viaPlugin.status).toBe(viaBare.status);
          expect(viaPlugin.replayed).toBe(false);
          const [withPlugin, without] = server.requests();
          expect(withPlugin && wire(withPlugin)).toEqual(without && wire(without));
        },
      );
    });

    describe('6. control data never reaches the wire', () => {
      it('explicit key, override and skip leave no trace in headers or body', async () => {
        const { client } = setup();
        const override = { reason: 'corrected-amount-reason', reviewer: 'reviewer-alice' };
        await client.request('POST', '/plain/orders', { amount: 1 }, { key: 'wire-key-secret' });
        await client.request('POST', '/plain/orders', { amount: 2 }, { key: 'wire-key-secret', override });
        await client.request('POST', '/plain/orders', { amount: 3 }, { skip: true });
        await client.request('POST', '/native/charges', { amount: 4 }, { override });
        const sent = server.requests();
        expect(sent).toHaveLength(4);
        for (const request of sent) {
          const names = request.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
          expect(names.filter((n) => n.includes('oncely'))).toEqual([]);
          const text = `${request.rawHeaders.join('\n')}\n${request.body.toString('utf8')}`;
          for (const secret of ['wire-key-secret', 'corrected-amount-reason', 'reviewer-alice', 'oncely']) {
            expect(text).not.toContain(secret);
          }
        }
        expect(sent.map((r) => JSON.parse(r.body.toString('utf8')))).toEqual([
          { amount: 1 },
          { amount: 2 },
          { amount: 3 },
          { amount: 4 },
        ]);
      });
    });

    describe('7. per-request skip and key', () => {
      it('skip: sent as is every time, no store call', async () => {
        const counting = countingStore(memoryStore());
        const { client } = setup({ store: counting.store });
        const before = counting.total();
        const a = await client.request('POST', '/plain/orders', { amount: 1 }, { skip: true });
        const b = await client.request('POST', '/plain/orders', { amount: 1 }, { skip: true });
        expect(counting.total()).toBe(before);
        expect([a.replayed, b.replayed]).toEqual([false, false]);
        expect(server.writes('/plain/')).toBe(2);
        // The same call without skip is guarded: the store is wired, skip is what kept it out.
        await client.request('POST', '/plain/orders', { amount: 1 });
        expect(counting.total()).toBeGreaterThan(before);
      });

      it('skip: the request on the wire is byte-identical to the bare client', async () => {
        const { client } = setup();
        const headers = { 'x-trace': 'skip' };
        await client.request('POST', '/plain/orders', { amount: 8 }, { skip: true, headers });
        await bare().request('POST', '/plain/orders', { amount: 8 }, { headers });
        const [withPlugin, without] = server.requests();
        expect(withPlugin && wire(withPlugin)).toEqual(without && wire(without));
      });

      it('explicit key: the key, not the body, decides what is the same operation', async () => {
        const { client } = setup();
        const a = await client.request('POST', '/plain/orders', { amount: 1 }, { key: 'op-1' });
        const b = await client.request('POST', '/plain/orders', { amount: 1 }, { key: 'op-1' });
        const c = await client.request('POST', '/plain/orders', { amount: 1 }, { key: 'op-2' });
        expect([a.replayed, b.replayed, c.replayed]).toEqual([false, true, false]);
        expect(b.body).toEqual(a.body);
        expect(server.writes('/plain/')).toBe(2);
      });

      it('explicit key on a native route is the Idempotency-Key the provider sees', async () => {
        const { client } = setup();
        await client.request('POST', '/native/charges', { amount: 1 }, { key: 'native-op-1' });
        expect(sentTo('/native/charges')[0]?.headers['idempotency-key']).toBe('native-op-1');
      });
    });
  });
}

/** What must be identical on the wire between the plugin and the bare client. */
function wire(request: ReceivedRequest) {
  return {
    method: request.method,
    path: request.path,
    rawHeaders: request.rawHeaders,
    body: request.body.toString('base64'),
  };
}
