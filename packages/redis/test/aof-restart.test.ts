import { createIdempotency, type WireResponse } from '@oncely/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisStore, redisStore } from '../src/index.js';
import { keysFor } from '../src/keys.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

describe('durability across a Redis restart with AOF (appendfsync always)', () => {
  let server: RedisServer;
  let client: Redis;
  let store: RedisStore;

  beforeAll(async () => {
    server = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    client = new Redis(server.url, { retryStrategy: () => 50 });
    client.on('error', () => undefined); // expected while the server restarts
    store = redisStore({ client, keyPrefix: 'aof:' });
  });

  afterAll(async () => {
    await store.close();
    client.disconnect();
    await server.destroy();
  });

  it('a completed record survives a restart and replays; its TTL survives too', async () => {
    let sends = 0;
    const send = async (): Promise<WireResponse> => {
      sends++;
      return { status: 201, headers: { 'x-id': 'ch_1' }, body: Buffer.from('{"id":"ch_1"}') };
    };
    const request = { method: 'POST', url: 'http://127.0.0.1/v1/charges', headers: {}, body: '{"n":1}' };
    const first = await createIdempotency({ store, ttl: '1h' }).execute(request, send);
    const key = first.key!;
    const before = await store.get(key);

    // SIGKILL: no shutdown save; only what the AOF holds comes back.
    await server.stop('SIGKILL');
    await server.restart();
    await new Promise((resolve) =>
      client.status === 'ready' ? resolve(undefined) : client.once('ready', resolve),
    );

    const after = await store.get(key);
    // observedAt is the clock at each read, not stored data.
    expect({ ...after, observedAt: 0 }).toEqual({ ...before, observedAt: 0 });
    const ttl = await client.pttl(keysFor('aof:', key).record);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(3_600_000);

    // A fresh engine (as after a process restart) replays instead of sending again.
    const replay = await createIdempotency({ store, ttl: '1h' }).execute(request, send);
    expect(replay.replayed).toBe(true);
    expect(Buffer.from(replay.response.body).toString()).toBe('{"id":"ch_1"}');
    expect(sends).toBe(1);
  });
});
