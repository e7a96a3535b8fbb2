import { randomUUID } from 'node:crypto';
import { createIdempotency, type ExecuteResult, type PreparedRequest } from '@oncely/core';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisStore, redisStore } from '../src/index.js';
import { connectShared, deletePrefix, uniquePrefix } from './support/shared-redis.js';

/**
 * Credentials in the request URL's query and in response headers must never reach Redis in the
 * clear: not in the record's fields, nor in any other key the store writes.
 */
const run = randomUUID().slice(0, 8);
const QUERY_SECRETS = {
  private_token: `S1private${run}`,
  api_token: `S2api${run}`,
  refresh_token: `S3refresh${run}`,
  'X-Amz-Signature': `S4amzsig${run}`,
  hapikey: `S5hapikey${run}`,
};
const HEADER_SECRETS = {
  'x-access-token': `S6access${run}`,
  'x-session-token': `S7session${run}`,
};
const ALL_SECRETS = [...Object.values(QUERY_SECRETS), ...Object.values(HEADER_SECRETS)];

/** Every key under `prefix` with every value it holds, as text, whatever its Redis type. */
async function dumpPrefix(client: Redis, prefix: string): Promise<Map<string, string>> {
  const escaped = prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
  const keys: string[] = [];
  for await (const batch of client.scanStream({ match: `${escaped}*`, count: 500 }) as AsyncIterable<
    string[]
  >) {
    keys.push(...batch);
  }
  const dump = new Map<string, string>();
  for (const key of keys) {
    const type = await client.type(key);
    let values: unknown;
    switch (type) {
      case 'string':
        values = await client.get(key);
        break;
      case 'hash':
        values = await client.hgetall(key);
        break;
      case 'list':
        values = await client.lrange(key, 0, -1);
        break;
      case 'set':
        values = await client.smembers(key);
        break;
      case 'zset':
        values = await client.zrange(key, 0, -1, 'WITHSCORES');
        break;
      case 'stream':
        values = await client.xrange(key, '-', '+');
        break;
      case 'none':
        continue; // expired between SCAN and TYPE
      default:
        throw new Error(`unexpected Redis type ${type} for ${key}`);
    }
    dump.set(key, JSON.stringify(values));
  }
  return dump;
}

describe('secrets at rest in Redis', () => {
  const prefix = uniquePrefix('secrets-at-rest');
  const namespace = `secrets-${run}`;
  let client: Redis;
  let store: RedisStore;
  let result: ExecuteResult;

  beforeAll(async () => {
    client = await connectShared();
    store = redisStore({ client, keyPrefix: prefix });
    const idem = createIdempotency({ namespace, store });
    const query = new URLSearchParams({ ...QUERY_SECRETS, ok: 'visible' }).toString();
    result = await idem.execute(
      {
        method: 'POST',
        url: `https://api.example.com/v1/x?${query}`,
        headers: { 'content-type': 'application/json' },
        body: '{"amount":1}',
      },
      async (_prepared: PreparedRequest) => ({
        status: 201,
        headers: { 'content-type': 'application/json', ...HEADER_SECRETS },
        body: Buffer.from('{"id":"ch_1"}'),
      }),
    );
  });

  afterAll(async () => {
    await store?.close();
    if (client) {
      await deletePrefix(client, prefix);
      client.disconnect();
    }
  });

  it('the record read back holds no secret; ordinary query parameters and content-type stay', async () => {
    const record = await store.get(result.key!);
    expect(record?.status).toBe('completed');
    expect(record!.target).toContain('ok=visible');
    for (const secret of Object.values(QUERY_SECRETS)) expect(record!.target).not.toContain(secret);
    const names = Object.keys(record!.response!.headers).map((name) => name.toLowerCase());
    expect(names).toContain('content-type');
    for (const header of Object.keys(HEADER_SECRETS)) expect(names).not.toContain(header);
    const raw = JSON.stringify(record);
    for (const secret of ALL_SECRETS) expect(raw).not.toContain(secret);
  });

  it('no raw Redis key or value of the namespace contains a secret', async () => {
    const dump = await dumpPrefix(client, prefix);
    const ours = [...dump.keys()].filter((key) => key.includes(`{${namespace}:`));
    expect(ours.length).toBeGreaterThan(0);
    // The scan did read the record: its harmless parameter is there.
    expect([...dump.values()].some((value) => value.includes('ok=visible'))).toBe(true);
    const leaks: string[] = [];
    for (const [key, value] of dump) {
      for (const secret of ALL_SECRETS) {
        if (key.includes(secret) || value.includes(secret)) leaks.push(`${secret} in ${key}`);
      }
    }
    expect(leaks).toEqual([]);
  });
});
