import { storeContract } from '@oncely/core/testing';
import { Redis } from 'ioredis';
import { Redis as Redis6 } from 'ioredis6';
import { describe, expect, it } from 'vitest';
import { redisStore } from '../src/index.js';
import { connectShared, deletePrefix, REDIS_URL, uniquePrefix } from './support/shared-redis.js';

// Standalone, ioredis 5 (RESP2).
{
  const prefix = uniquePrefix('contract-resp2');
  let client: Redis;
  let store: ReturnType<typeof redisStore>;
  storeContract(
    'redis standalone (ioredis 5, RESP2)',
    async () => {
      client = await connectShared();
      store = redisStore({ client, keyPrefix: prefix });
      return store;
    },
    {
      teardown: async () => {
        await store.close();
        await deletePrefix(client, prefix);
        client.disconnect();
      },
    },
  );
}

// Standalone, ioredis 6 (RESP3 by default): script replies must not depend on the protocol.
{
  const prefix = uniquePrefix('contract-resp3');
  let client: Redis6;
  let store: ReturnType<typeof redisStore>;
  storeContract(
    'redis standalone (ioredis 6, RESP3)',
    async () => {
      await connectShared().then((probe) => probe.disconnect());
      client = new Redis6(REDIS_URL);
      store = redisStore({ client, keyPrefix: prefix });
      return store;
    },
    {
      teardown: async () => {
        await store.close();
        const cleaner = new Redis(REDIS_URL);
        await deletePrefix(cleaner, prefix);
        cleaner.disconnect();
        client.disconnect();
      },
    },
  );
}

describe('the RESP3 run above really speaks RESP3', () => {
  it('ioredis 6 negotiates protocol 3 with the server', async () => {
    await connectShared().then((probe) => probe.disconnect());
    const client = new Redis6(REDIS_URL);
    try {
      const info = String(await client.call('CLIENT', 'INFO'));
      expect(info).toMatch(/ resp=3\b/);
    } finally {
      client.disconnect();
    }
  });
});
