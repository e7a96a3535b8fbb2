import {
  createIdempotency,
  type Idempotency,
  type OncelyEvent,
  StoreUnavailableError,
  type WireResponse,
} from '@oncely/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisStore, redisStore } from '../src/index.js';
import { keysFor } from '../src/keys.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

/** A redis-server this file owns, stopped and restarted under a live client. */
describe('store down', () => {
  let server: RedisServer;
  let client: Redis;
  let store: RedisStore;
  const events: OncelyEvent[] = [];
  let sends = 0;
  const created: WireResponse = { status: 201, headers: {}, body: Buffer.from('{"id":"ch_1"}') };
  const request = (order: string) => ({
    method: 'POST',
    url: 'http://127.0.0.1/v1/charges',
    headers: {},
    body: JSON.stringify({ order }),
  });

  beforeAll(async () => {
    // AOF so a record written before a stop is still there after the restart.
    server = await startRedis({
      args: ['--appendonly', 'yes', '--appendfsync', 'always'],
    });
    client = new Redis(server.url, { retryStrategy: () => 50 });
    client.on('error', () => undefined); // expected while the server is down
    store = redisStore({ client, keyPrefix: 'down:', commandTimeout: '500ms' });
    idem = createIdempotency({ store, namespace: 'down', onEvent: (event) => events.push(event) });
  });

  afterAll(async () => {
    await store.close();
    client.disconnect();
    await server.destroy();
  });

  let idem: Idempotency;
  const send = async () => {
    sends++;
    return created;
  };

  async function until(state: 'ready' | 'down') {
    if (state === 'ready' && client.status === 'ready') return;
    if (state === 'down' && client.status !== 'ready') return;
    await new Promise((resolve) => client.once(state === 'ready' ? 'ready' : 'close', resolve));
  }

  it('reserve fails closed while Redis is down (nothing sent), then works again without re-creating anything', async () => {
    await idem.execute(request('before'), send);
    expect(sends).toBe(1);

    await server.stop();
    await until('down');
    const error = await idem.execute(request('while-down'), send).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(sends).toBe(1);

    await server.restart();
    await until('ready');
    const after = await idem.execute(request('while-down'), send);
    expect(after.replayed).toBe(false);
    expect(sends).toBe(2);
    // The record written before the outage survived (AOF) and replays.
    expect((await idem.execute(request('before'), send)).replayed).toBe(true);
    expect(sends).toBe(2);
  });

  it('a call that hangs past commandTimeout fails as StoreUnavailableError', async () => {
    const blocker = new Redis(server.url);
    // The epoch's counter (`<epoch>:<id>`): every grant moves it.
    const counter = async () => {
      const names = await client.keys(`${keysFor('down:', 'down:slow').epoch}:*`);
      return (await Promise.all(names.map((name) => client.get(name)))).join(',');
    };
    const before = await counter();
    // CLIENT PAUSE holds every script call, so the reserve gets no reply in time (and lands later).
    await blocker.call('CLIENT', 'PAUSE', '10000', 'WRITE');
    try {
      const error = await store
        .reserve({
          key: 'down:slow',
          scope: 's',
          fingerprint: 'f',
          method: 'POST',
          target: 't',
          owner: 'o',
          leaseMs: 1000,
          ttlMs: 10_000,
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
    } finally {
      await blocker.call('CLIENT', 'UNPAUSE');
      blocker.disconnect();
    }
    // The reservation did land late (it moved the epoch's counter) and was given back: the key is free.
    await expect.poll(counter).not.toBe(before);
    await expect.poll(() => store.get('down:slow')).toBeUndefined();
  });

  it('Redis lost on complete after a live send: the caller gets the live response, the record stays in_flight', async () => {
    events.length = 0;
    const stopping = async (): Promise<WireResponse> => {
      sends++;
      await server.stop(); // the write happened; the store goes away before it can be recorded
      await until('down');
      return created;
    };
    const result = await idem.execute(request('lost-complete'), stopping);
    expect(result.response.status).toBe(201);
    expect(result.replayed).toBe(false);
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'record-not-written',
        reason: 'store-unavailable',
        operation: 'complete',
      }),
    );

    await server.restart();
    await until('ready');
    const key = result.key!;
    const record = await store.get(key);
    // Never silently completed: still in_flight, its lease will expire into unknown.
    expect(record?.status).toBe('in_flight');
  });
});
