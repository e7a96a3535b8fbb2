import { randomUUID } from 'node:crypto';
import { createIdempotency, type Idempotency, type IdempotencyOptions, memoryStore } from '@oncely/core';
import type { AxiosInstance } from 'axios';
import { Redis } from 'ioredis';
import { bareAxios, coreAxios, nodeRedis, type RedisClient } from './clients.js';
import type { DownstreamServer } from './http-server.js';
import {
  loadAxiosPlugin,
  loadGotPlugin,
  loadRedisStore,
  loadUndiciPlugin,
  type RedisStoreFactory,
} from './optional.js';
import type { RedisServer } from './redis-server.js';

export interface Context {
  quick: boolean;
  server: DownstreamServer;
  redis: RedisServer;
  runId: string;
  redisStore: RedisStoreFactory | undefined;
  axiosPlugin: Awaited<ReturnType<typeof loadAxiosPlugin>>;
  gotPlugin: Awaited<ReturnType<typeof loadGotPlugin>>;
  undiciPlugin: Awaited<ReturnType<typeof loadUndiciPlugin>>;
  /** Failed operations by scenario and variant (reported, not timed). */
  failures: Map<string, { count: number; message: string }>;
  /** An `onError` for the runners that records into `failures` under `scenario: variant`. */
  failed(scenario: string): (variant: string, error: unknown) => void;
  /** Pick quick or full. */
  n(quick: number, full: number): number;
  log(message: string): void;
  /** Runs at the end of the bench (clients to quit, stores to close). */
  defer(close: () => unknown): void;
  closeAll(): Promise<void>;
  memoryIdem(options?: IdempotencyOptions): Idempotency;
  /** A separate ioredis connection and store per call (as a separate process would have). */
  redisIdem(
    options?: { autoPipelining?: boolean; port?: number; cacheRecords?: number } & IdempotencyOptions,
  ): Promise<Idempotency>;
  /** `@redis/client` connection for Powertools (to `port`, default the bench's redis-server). */
  nodeRedis(port?: number): Promise<RedisClient>;
  /** axios guarded by oncely: `@oncely/axios` when it is there, else the bench's core-only adapter. */
  oncelyAxios(idem: Idempotency, maxSockets?: number): AxiosInstance;
  axiosVia: string;
}

export async function createContext(
  quick: boolean,
  server: DownstreamServer,
  redis: RedisServer,
  log: (message: string) => void,
): Promise<Context> {
  const closers: Array<() => unknown> = [];
  const failures = new Map<string, { count: number; message: string }>();
  const [redisStore, axiosPlugin, gotPlugin, undiciPlugin] = await Promise.all([
    loadRedisStore(),
    loadAxiosPlugin(),
    loadGotPlugin(),
    loadUndiciPlugin(),
  ]);
  const ctx: Context = {
    quick,
    server,
    redis,
    runId: randomUUID().slice(0, 8),
    redisStore,
    axiosPlugin,
    gotPlugin,
    undiciPlugin,
    failures,
    failed: (scenario) => (variant, error) => {
      const key = `${scenario}: ${variant}`;
      const entry = failures.get(key) ?? { count: 0, message: '' };
      entry.count++;
      if (!entry.message) {
        const cause = (error as { cause?: { message?: string } })?.cause?.message;
        entry.message = `${String((error as Error)?.message ?? error).slice(0, 200)}${cause ? ` (cause: ${cause.slice(0, 200)})` : ''}`;
      }
      failures.set(key, entry);
    },
    n: (q, f) => (quick ? q : f),
    log,
    defer: (close) => void closers.push(close),
    async closeAll() {
      for (const close of closers.reverse()) {
        try {
          await close();
        } catch {}
      }
    },
    memoryIdem(options = {}) {
      const store = memoryStore();
      const idem = createIdempotency({ store, ...options });
      closers.push(async () => {
        await idem.close();
        store.close();
      });
      return idem;
    },
    async redisIdem(options = {}) {
      if (!redisStore) throw new Error('@oncely/redis is not available');
      const { autoPipelining = false, port = redis.port, cacheRecords, ...rest } = options;
      const client = new Redis({
        host: '127.0.0.1',
        port,
        enableAutoPipelining: autoPipelining,
        lazyConnect: true,
      });
      await client.connect();
      const store = redisStore({
        client,
        ...(cacheRecords === undefined
          ? {}
          : { cache: cacheRecords === 0 ? false : { maxRecords: cacheRecords } }),
      });
      const idem = createIdempotency({ store, ...rest });
      closers.push(async () => {
        await idem.close();
        await store.close?.();
        client.disconnect();
      });
      return idem;
    },
    async nodeRedis(port = redis.port) {
      const client = await nodeRedis(`redis://127.0.0.1:${port}`);
      closers.push(() => client.destroy());
      return client;
    },
    oncelyAxios(idem, maxSockets = 16) {
      const instance = bareAxios(maxSockets);
      if (!axiosPlugin) return coreAxios(instance, idem);
      return (axiosPlugin(instance, idem) as AxiosInstance | undefined) ?? instance;
    },
    axiosVia: axiosPlugin ? '@oncely/axios' : 'bench core-only axios adapter (@oncely/axios not built yet)',
  };
  return ctx;
}
