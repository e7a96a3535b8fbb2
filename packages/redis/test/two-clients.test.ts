import { createIdempotency, type WireResponse } from '@oncely/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisStore, redisStore } from '../src/index.js';
import { connectShared, deletePrefix, REDIS_URL, uniquePrefix } from './support/shared-redis.js';

const prefix = uniquePrefix('two-clients');

describe('end to end: two engines on two ioredis clients', () => {
  let cleaner: Redis;
  const clients: Redis[] = [];
  const stores: RedisStore[] = [];

  beforeAll(async () => {
    cleaner = await connectShared();
    for (let i = 0; i < 2; i++) {
      const client = new Redis(REDIS_URL);
      clients.push(client);
      stores.push(redisStore({ client, keyPrefix: prefix }));
    }
  });

  afterAll(async () => {
    for (const store of stores) await store.close();
    for (const client of clients) client.disconnect();
    await deletePrefix(cleaner, prefix);
    cleaner.disconnect();
  });

  it('the same request through both sends once; the other caller waits and replays', async () => {
    let bWaits = false;
    const a = createIdempotency({ store: stores[0]!, namespace: 'e2e' });
    const b = createIdempotency({
      store: stores[1]!,
      namespace: 'e2e',
      onEvent: (event) => {
        if (event.type === 'waiting') bWaits = true;
      },
    });
    let sends = 0;
    let finish: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const send = async (): Promise<WireResponse> => {
      sends++;
      await gate;
      return { status: 201, headers: {}, body: Buffer.from('{"id":"ch_1"}') };
    };
    const request = { method: 'POST', url: 'http://127.0.0.1/v1/charges', headers: {}, body: '{"amount":5}' };
    const first = a.execute(request, send);
    await expect.poll(() => sends).toBe(1);
    const second = b.execute(request, send);
    await expect.poll(() => bWaits).toBe(true); // b found a's record in flight and waits on it
    finish();
    const [one, two] = await Promise.all([first, second]);
    expect(sends).toBe(1);
    expect(one.replayed).toBe(false);
    expect(two.replayed).toBe(true);
    expect(Buffer.from(two.response.body).toString()).toBe('{"id":"ch_1"}');
    expect(two.response.headers['oncely-replayed']).toBe('true');
  });
});
