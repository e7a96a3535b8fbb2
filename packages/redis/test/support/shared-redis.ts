import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

/** The Redis every developer runs (127.0.0.1:6379, or REDIS_URL). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Connects and pings; fails loudly when the shared Redis is not running. */
export async function connectShared(): Promise<Redis> {
  const client = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw new Error(`These tests need a running Redis at ${REDIS_URL} (set REDIS_URL): ${String(error)}`);
  }
  return client;
}

/** A key prefix no other test file or user of the shared Redis uses. */
export function uniquePrefix(name: string): string {
  return `oncely-test:${name}:${randomUUID().slice(0, 8)}:`;
}

/** Deletes every key under `prefix` (only those). */
export async function deletePrefix(client: Redis, prefix: string): Promise<void> {
  const escaped = prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
  for await (const batch of client.scanStream({ match: `${escaped}*`, count: 500 }) as AsyncIterable<
    string[]
  >) {
    if (batch.length > 0) await client.del(...batch);
  }
}

/**
 * The shared Redis for one test file: connected before its tests, with every key under `prefix`
 * deleted and the connection closed after them. Read `.client` inside the tests.
 */
export function sharedClientFor(prefix: string): { readonly client: Redis } {
  const held: { client: Redis } = { client: undefined as unknown as Redis };
  beforeAll(async () => {
    held.client = await connectShared();
  });
  afterAll(async () => {
    await deletePrefix(held.client, prefix);
    held.client.disconnect();
  });
  return held;
}
