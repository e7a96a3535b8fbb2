import type { IdempotencyStore } from '@oncely/core';
import { redisStore } from '@oncely/redis';
import { Redis } from 'ioredis';
import { CliError, ExitCode, UsageError } from './errors.js';
import { redactUrl } from './format.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface Connection {
  redisUrl: string;
  /** `undefined`: the Redis store's default (`oncely:`). */
  keyPrefix?: string | undefined;
}

export interface OpenedStore {
  store: IdempotencyStore;
  /** The store's clock in ms. */
  now: () => number;
  close(): Promise<void>;
}

const CONNECT_TIMEOUT_MS = 3_000;

/** Connects to Redis (failing fast, no reconnect loop) and wraps it in the Redis store. */
export async function openRedisStore(connection: Connection): Promise<OpenedStore> {
  const { redisUrl, keyPrefix } = connection;
  let protocol: string;
  try {
    protocol = new URL(redisUrl).protocol;
  } catch {
    throw new UsageError(`--redis-url is not a URL: expected redis://host:port or rediss://host:port`);
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw new UsageError(`--redis-url must start with redis:// or rediss://; got ${redactUrl(redisUrl)}`);
  }
  const client = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  let lastError: Error | undefined;
  client.on('error', (error: Error) => {
    lastError = error; // failures surface through the commands
  });
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    const cause = (lastError ?? (error as Error)).message.replace(/\.$/, '');
    throw new CliError(
      ExitCode.StoreUnavailable,
      `cannot reach Redis at ${redactUrl(redisUrl)}: ${cause}. Nothing was changed.`,
    );
  }
  let offset = 0;
  try {
    const [seconds, micros] = await client.time();
    offset = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - Date.now();
  } catch (error) {
    client.disconnect();
    throw new CliError(
      ExitCode.StoreUnavailable,
      `Redis at ${redactUrl(redisUrl)} did not answer TIME: ${(error as Error).message}`,
    );
  }
  let store: ReturnType<typeof redisStore>;
  try {
    store = redisStore({ client, keyPrefix });
  } catch (error) {
    client.disconnect();
    throw error;
  }
  return {
    store,
    now: () => Date.now() + offset,
    async close() {
      await store.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}
