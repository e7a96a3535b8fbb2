import type { ClientRequest } from 'node:http';
import axiosRetry, { isNetworkError } from 'axios-retry';
import { describe, expect, it } from 'vitest';
import { useFakeServer } from './harness.js';

/**
 * `response.request` of a response oncely built (replayed, coalesced, reconciled): the fields of
 * the Node `ClientRequest` the http adapter puts there, which SDKs read (@slack/web-api 7 reads
 * `response.request.path` on every call).
 */
type RequestLike = Pick<ClientRequest, 'method' | 'path' | 'host' | 'protocol'> & {
  getHeader(name: string): unknown;
  res: { statusCode: number; statusMessage: string; headers: Record<string, unknown>; responseUrl: string };
  responseURL: string;
};

describe('synthetic responses carry a request, as live ones do', () => {
  const { server, client } = useFakeServer();

  it('a replay: method, path with query, host, protocol, getHeader, res, responseURL', async () => {
    const { instance } = client();
    const config = { params: { page: 2 }, headers: { 'x-trace': 't-1' } };
    const live = await instance.post('/plain/orders', { amount: 1 }, config);
    const replay = await instance.post('/plain/orders', { amount: 1 }, config);
    expect(replay.oncely?.replayed).toBe(true);
    const real = live.request as ClientRequest;
    const request = replay.request as RequestLike;
    expect(request).toBeDefined();
    expect(request.method).toBe(real.method);
    expect(request.path).toBe('/plain/orders?page=2');
    expect(request.path).toBe(real.path);
    expect(request.host).toBe(real.host);
    expect(request.protocol).toBe(real.protocol);
    expect(request.getHeader('X-Trace')).toBe(real.getHeader('x-trace'));
    expect(request.getHeader('content-type')).toBe(real.getHeader('content-type'));
    expect(request.getHeader('x-absent')).toBeUndefined();
    expect(request.res.statusCode).toBe(201);
    expect(request.res.statusMessage).toBe(replay.statusText);
    expect(request.res.headers['content-type']).toBe('application/json');
    expect(request.res.headers['oncely-replayed']).toBe('true');
    expect(request.res.responseUrl).toBe(`${server().url}/plain/orders?page=2`);
    expect(request.responseURL).toBe(request.res.responseUrl);
  });

  it('coalesced twins: each response has its request', async () => {
    const { instance } = client();
    server().inject('/plain/', { delayMs: 50 });
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => instance.post('/plain/orders', { amount: 4 })),
    );
    expect(server().writes()).toBe(1);
    for (const response of responses) {
      expect((response.request as RequestLike).path).toBe('/plain/orders');
      expect((response.request as RequestLike).method).toBe('POST');
    }
  });

  it('a reconciled response has its request', async () => {
    const { instance } = client(
      {},
      {
        routes: [
          {
            match: 'POST /plain/*',
            reconcile: async (ctx) => {
              const found = await fetch(`${server().url}/plain/lookup?ref=r-1`);
              return found.status === 200
                ? ctx.found({ status: 201, body: await found.json() })
                : ctx.absent();
            },
          },
        ],
      },
    );
    axiosRetry(instance, { retries: 1, retryCondition: isNetworkError });
    server().inject('/plain/', { dropAfterCommit: 1 });
    const response = await instance.post('/plain/orders', { amount: 1, ref: 'r-1' });
    expect(response.oncely?.replayed).toBe(true);
    const request = response.request as RequestLike;
    expect(request.path).toBe('/plain/orders');
    expect(request.res.statusCode).toBe(201);
  });

  it('a replay rejected by validateStatus: the error carries the request too', async () => {
    const { instance } = client({ validateStatus: (status) => status === 200 });
    await instance.post('/plain/orders', { amount: 3 }).catch(() => undefined);
    const error = await instance.post('/plain/orders', { amount: 3 }).catch((e: unknown) => e);
    expect((error as { request?: RequestLike }).request?.path).toBe('/plain/orders');
  });
});
