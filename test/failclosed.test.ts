import { Agent as HttpAgent } from 'node:http';
import { withIdempotency } from '@oncely/axios';
import { createIdempotency, type Idempotency, type OncelyEvent } from '@oncely/core';
import { idempotency as gotIdempotency } from '@oncely/got';
import { type RedisStore, redisStore } from '@oncely/redis';
import { idempotency as undiciIdempotency } from '@oncely/undici';
import axios from 'axios';
import axiosRetry, { isNetworkError, isRetryableError } from 'axios-retry';
import got from 'got';
import { Redis } from 'ioredis';
import { interceptors, Agent as UndiciAgent, request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../packages/redis/test/support/redis-server.js';
import { type FakeServer, startFakeServer } from './support/fake-server.js';

/**
 * Fail closed and degradation, end to end: real redis-server (owned by this file, stopped and
 * restarted on the same port), real HTTP provider, the three client plugins with their own retry
 * for POST turned on.
 */

type ClientName = 'axios' | 'got' | 'undici';
const CLIENTS: ClientName[] = ['axios', 'got', 'undici'];

interface Reply {
  status: number;
  body: Record<string, unknown>;
  replayed: boolean;
}

interface Client {
  post(path: string, body: unknown): Promise<Reply>;
  close(): Promise<void>;
}

/** Each client as a user would set it up: the plugin installed, the client's own retry for POST on. */
function makeClient(name: ClientName, idem: Idempotency, baseUrl: string, retries: number): Client {
  if (name === 'axios') {
    const agent = new HttpAgent({ keepAlive: true });
    const instance = axios.create({ baseURL: baseUrl, httpAgent: agent });
    axiosRetry(instance, {
      retries,
      retryDelay: () => 10,
      retryCondition: (error) => isNetworkError(error) || isRetryableError(error),
    });
    withIdempotency(instance, idem);
    return {
      async post(path, body) {
        const response = await instance.post(path, body);
        return {
          status: response.status,
          body: response.data,
          replayed: response.headers['oncely-replayed'] === 'true',
        };
      },
      close: async () => agent.destroy(),
    };
  }
  if (name === 'got') {
    const agent = new HttpAgent({ keepAlive: true });
    const instance = got
      .extend({
        prefixUrl: baseUrl,
        agent: { http: agent },
        retry: { limit: retries, methods: ['POST'], backoffLimit: 10, noise: 0 },
      })
      .extend(gotIdempotency(idem));
    return {
      async post(path, body) {
        const response = await instance.post(path.slice(1), { json: body });
        return {
          status: response.statusCode,
          body: JSON.parse(response.body),
          replayed: response.headers['oncely-replayed'] === 'true',
        };
      },
      close: async () => agent.destroy(),
    };
  }
  const agent = new UndiciAgent().compose(
    undiciIdempotency(idem),
    interceptors.retry({ methods: ['POST'], maxRetries: retries, minTimeout: 10, maxTimeout: 10 }),
  );
  return {
    async post(path, body) {
      const response = await undiciRequest(`${baseUrl}${path}`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return {
        status: response.statusCode,
        body: (await response.body.json()) as Record<string, unknown>,
        replayed: response.headers['oncely-replayed'] === 'true',
      };
    },
    close: () => agent.close(),
  };
}

/** The oncely error code anywhere in a client error's chain (axios, got and undici wrap it differently). */
function oncelyCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ONCELY_')) return code;
    current = current.cause;
  }
  return undefined;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: unknown) => error,
  );
}

let redis: RedisServer;
let server: FakeServer;

beforeAll(async () => {
  // AOF: a record written before the outage must still replay after the restart.
  redis = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  server = await startFakeServer();
});

afterAll(async () => {
  await server?.close();
  await redis?.destroy();
});

describe('Redis unreachable', () => {
  let client: Redis;
  let store: RedisStore;
  let idem: Idempotency;
  const events: OncelyEvent[] = [];
  const clients = new Map<ClientName, Client>();

  beforeAll(() => {
    // Reconnects forever (the default would too); errors while down are expected, not fatal.
    client = new Redis(redis.url, { retryStrategy: () => 50 });
    client.on('error', () => undefined);
    store = redisStore({ client, keyPrefix: 'failclosed:', commandTimeoutMs: 500 });
    idem = createIdempotency({
      store,
      namespace: 'failclosed',
      routes: [{ match: 'POST /native/*', provider: 'stripe' }],
      onEvent: (event) => events.push(event),
    });
    for (const name of CLIENTS) clients.set(name, makeClient(name, idem, server.url, 2));
  });

  afterAll(async () => {
    for (const c of clients.values()) await c.close();
    await idem?.close();
    await store?.close();
    client?.disconnect();
  });

  /** Waits for the client to notice (its own events), never for a fixed time. */
  async function clientIs(state: 'ready' | 'down') {
    if (state === 'ready' ? client.status === 'ready' : client.status !== 'ready') return;
    await new Promise((resolve) => client.once(state === 'ready' ? 'ready' : 'close', resolve));
  }

  it('refuses with StoreUnavailableError and sends nothing while down, then recovers with the same objects', async () => {
    // Before the outage: one write per client, and each is recorded.
    for (const name of CLIENTS) {
      const reply = await clients.get(name)!.post(`/native/charges`, { ref: `before-${name}` });
      expect(reply.status).toBe(200);
      expect(reply.replayed).toBe(false);
    }
    expect(server.writes('/native/')).toBe(3);

    await redis.stop();
    await clientIs('down');
    const received = server.requests().length;

    for (const name of CLIENTS) {
      const c = clients.get(name)!;
      // A new operation (the client's retry is on: it may retry the refusal, still nothing goes out)…
      expect(oncelyCode(await failure(c.post('/native/charges', { ref: `during-${name}` })))).toBe(
        'ONCELY_STORE_UNAVAILABLE',
      );
      // …and one that completed before the outage: no replay from memory, no blind send either.
      expect(oncelyCode(await failure(c.post('/native/charges', { ref: `before-${name}` })))).toBe(
        'ONCELY_STORE_UNAVAILABLE',
      );
      // Plain (no native key) routes fail closed the same way.
      expect(oncelyCode(await failure(c.post('/plain/orders', { ref: `plain-during-${name}` })))).toBe(
        'ONCELY_STORE_UNAVAILABLE',
      );
    }
    expect(server.requests().length).toBe(received);
    expect(server.writes()).toBe(3);
    expect(events.filter((e) => e.type === 'sent')).toHaveLength(3);

    // Redis comes back on the same port: no restart of anything on our side.
    await redis.restart();
    await clientIs('ready');

    for (const name of CLIENTS) {
      const c = clients.get(name)!;
      const fresh = await c.post('/native/charges', { ref: `during-${name}` });
      expect(fresh.status).toBe(200);
      expect(fresh.replayed).toBe(false);
      // The record written before the outage survived (AOF) and replays: no second write.
      const again = await c.post('/native/charges', { ref: `before-${name}` });
      expect(again.replayed).toBe(true);
      expect(again.body.ref).toBe(`before-${name}`);
      const plain = await c.post('/plain/orders', { ref: `plain-during-${name}` });
      expect(plain.status).toBe(201);
    }
    expect(server.writes('/native/')).toBe(6);
    expect(server.writes('/plain/')).toBe(3);
    // One written resource per ref: nothing written twice across the outage.
    const refs = server.written().map((w) => w.resource.ref);
    expect(new Set(refs).size).toBe(refs.length);
  });
});

describe('provider says "key in use" forever', () => {
  let client: Redis;
  let store: RedisStore;
  let idem: Idempotency;
  const events: OncelyEvent[] = [];

  beforeAll(() => {
    client = new Redis(redis.url, { retryStrategy: () => 50 });
    client.on('error', () => undefined);
    store = redisStore({ client, keyPrefix: 'inuse:' });
    idem = createIdempotency({
      store,
      namespace: 'inuse',
      wait: { timeout: '3s' },
      routes: [{ match: 'POST /native/*', provider: 'stripe' }],
      onEvent: (event) => events.push(event),
    });
  });

  afterAll(async () => {
    await idem?.close();
    await store?.close();
    client?.disconnect();
  });

  it.each(CLIENTS)(
    '%s: bounded back-off, then InFlightTimeoutError; no tight loop; recovers when the provider does',
    async (name) => {
      server.reset();
      server.inject('/native/', { inUseForever: true });
      events.length = 0;
      // The client's own retry off: what is measured is oncely's bounded re-send of the same key.
      const c = makeClient(name, idem, server.url, 0);
      try {
        const error = await failure(c.post('/native/payouts', { ref: `in-use-${name}` }));
        expect(oncelyCode(error)).toBe('ONCELY_IN_FLIGHT_TIMEOUT');

        const sent = server.requests().filter((r) => r.path === '/native/payouts');
        // Re-sent (the same provider key each time), with exponential back-off: a handful of requests
        // in a 3 s budget (0.25 s base, doubling, jittered), where a tight loop would make hundreds.
        expect(sent.length).toBeGreaterThanOrEqual(2);
        expect(sent.length).toBeLessThanOrEqual(8);
        expect(new Set(sent.map((r) => r.headers['idempotency-key'])).size).toBe(1);
        const inUse = events.filter((e) => e.type === 'provider-in-use');
        expect(inUse).toHaveLength(sent.length);
        expect(server.writes()).toBe(0);

        // The provider recovers: the next call re-sends under the same provider key and writes once.
        server.reset();
        const reply = await c.post('/native/payouts', { ref: `in-use-${name}` });
        expect(reply.status).toBe(200);
        expect(server.writes('/native/')).toBe(1);
        const again = await c.post('/native/payouts', { ref: `in-use-${name}` });
        expect(again.replayed).toBe(true);
        expect(server.writes('/native/')).toBe(1);
      } finally {
        await c.close();
      }
    },
  );
});
