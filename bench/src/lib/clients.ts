import { Agent as HttpAgent } from 'node:http';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { CachePersistenceLayer } from '@aws-lambda-powertools/idempotency/cache';
import type { Idempotency, RequestHeaders } from '@oncely/core';
import { createClient } from '@redis/client';
import axios, {
  AxiosHeaders,
  type AxiosInstance,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';

/** A keep-alive axios instance (one per variant, so no variant borrows another's warm sockets). */
export function bareAxios(maxSockets = 16): AxiosInstance {
  return axios.create({ httpAgent: new HttpAgent({ keepAlive: true, maxSockets }) });
}

/**
 * A minimal axios adapter that routes guarded requests through `idem.execute`. It stood in for
 * `@oncely/axios` until the plugin landed; it is kept as the "core only" reference point so the
 * plugin's own cost can be told apart from core's.
 */
export function coreAxios(instance: AxiosInstance, idem: Idempotency): AxiosInstance {
  const http = axios.getAdapter('http');
  instance.defaults.adapter = async (config: InternalAxiosRequestConfig): Promise<AxiosResponse> => {
    const url = instance.getUri(config);
    const method = (config.method ?? 'get').toUpperCase();
    const result = await idem.execute(
      {
        method,
        url,
        headers: config.headers.toJSON() as RequestHeaders,
        body: config.data as string | undefined,
      },
      async (prepared) => {
        const res = await http({
          ...config,
          headers: AxiosHeaders.concat(config.headers, prepared.setHeaders),
          data: prepared.body ?? config.data,
          responseType: 'arraybuffer',
        });
        return {
          status: res.status,
          statusText: res.statusText,
          headers: Object.fromEntries(
            Object.entries(res.headers as Record<string, unknown>).map(([k, v]) => [
              k,
              Array.isArray(v) ? v.map(String) : String(v),
            ]),
          ),
          body: res.data as Buffer,
        };
      },
    );
    const { response } = result;
    return {
      data: Buffer.from(response.body.buffer, response.body.byteOffset, response.body.byteLength).toString(
        'utf8',
      ),
      status: response.status,
      statusText: response.statusText ?? '',
      headers: new AxiosHeaders(response.headers as Record<string, string>),
      config,
      request: {},
    };
  };
  return instance;
}

const makeNodeRedis = (url: string) => createClient({ url });
export type RedisClient = ReturnType<typeof makeNodeRedis>;

export async function nodeRedis(url: string): Promise<RedisClient> {
  const client = makeNodeRedis(url);
  await client.connect();
  return client;
}

export interface PostInput {
  url: string;
  body: unknown;
}

/**
 * What a Powertools user writes for our use case (their issue #2368): `makeIdempotent` around a
 * function that posts with axios, the payload `{url, body}` as the idempotency payload, the
 * `CachePersistenceLayer` on `@redis/client`. The result must be JSON: status and data.
 */
export function powertoolsPost(
  client: RedisClient,
  ax: AxiosInstance,
  options: {
    localCache?: boolean;
    maxLocalCacheSize?: number;
    keyPrefix?: string;
    /** Register the fake 60 s Lambda context (default); `false` = plain use outside Lambda. */
    lambdaContext?: boolean;
  } = {},
): (input: PostInput) => Promise<{ status: number; data: unknown }> {
  const persistenceStore = new CachePersistenceLayer({
    client: client as unknown as ConstructorParameters<typeof CachePersistenceLayer>[0]['client'],
  });
  const config = new IdempotencyConfig({
    expiresAfterSeconds: 3600,
    useLocalCache: options.localCache ?? false,
    maxLocalCacheSize: options.maxLocalCacheSize ?? 1000,
  });
  // Outside Lambda there is no deadline: without a context Powertools writes no in-progress expiry
  // (the orphan bug of their #5678) and console.warns on every call. A constant 60 s "remaining
  // time" mirrors oncely's default 60 s lease and is the fair, best-case setup.
  if (options.lambdaContext !== false) {
    config.registerLambdaContext({ getRemainingTimeInMillis: () => 60_000 } as unknown as Parameters<
      IdempotencyConfig['registerLambdaContext']
    >[0]);
  }
  return makeIdempotent(
    async (input: PostInput) => {
      const res = await ax.post(input.url, input.body);
      return { status: res.status, data: res.data as unknown };
    },
    { persistenceStore, config, keyPrefix: options.keyPrefix ?? 'bench' },
  );
}
