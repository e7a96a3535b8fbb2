import { createIdempotency, memoryStore } from '@oncely/core';
import axios from 'axios';
import axiosRetry from 'axios-retry';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { oncelyErrorOf, withIdempotency } from '../src/index.js';
import { rejection } from './harness.js';

/** MSW intercepts below axios' adapter: oncely's replays never reach it, live attempts do. */
const API = 'https://api.example.test';
const seen: Request[] = [];
let failNext = 0;

const mock = setupServer(
  http.post(`${API}/v1/charges`, async ({ request }) => {
    seen.push(request.clone());
    if (failNext > 0) {
      failNext--;
      return HttpResponse.error();
    }
    const body = (await request.json()) as Record<string, unknown>;
    return HttpResponse.json({ id: `ch_${seen.length}`, ...body }, { status: 200 });
  }),
  http.get(`${API}/v1/charges`, ({ request }) => {
    seen.push(request.clone());
    return HttpResponse.json({ data: [] });
  }),
);

beforeAll(() => mock.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  mock.resetHandlers();
  seen.length = 0;
  failNext = 0;
});
afterAll(() => mock.close());

/** MSW's HttpResponse.error() carries no error code, which axios-retry's isNetworkError requires. */
const noResponse = (error: { response?: unknown }) => error.response === undefined;

function client(provider?: string) {
  const idem = createIdempotency({
    store: memoryStore(),
    routes: provider ? [{ match: 'POST /v1/*', provider }] : [],
  });
  return withIdempotency(axios.create({ baseURL: API }), idem);
}

describe('@oncely/axios under MSW', () => {
  it('a repeated POST reaches MSW once; the replay is parsed and marked', async () => {
    const instance = client();
    const live = await instance.post('/v1/charges', { amount: 10 });
    const replay = await instance.post('/v1/charges', { amount: 10 });
    expect(seen).toHaveLength(1);
    expect(replay.data).toEqual(live.data);
    expect(replay.headers['oncely-replayed']).toBe('true');
    expect(replay.oncely?.replayed).toBe(true);
  });

  it('GET passes through every time, without oncely headers', async () => {
    const instance = client('stripe');
    await instance.get('/v1/charges');
    await instance.get('/v1/charges');
    expect(seen).toHaveLength(2);
    for (const request of seen) {
      expect(request.headers.get('idempotency-key')).toBeNull();
      expect([...request.headers.keys()].filter((name) => name.includes('oncely'))).toEqual([]);
    }
  });

  it('a network error on a provider route: axios-retry re-sends under the same Idempotency-Key', async () => {
    const instance = client('stripe');
    axiosRetry(instance, { retries: 2, retryCondition: noResponse });
    failNext = 1;
    const response = await instance.post('/v1/charges', { amount: 20 });
    expect(response.data).toMatchObject({ amount: 20 });
    expect(seen).toHaveLength(2);
    const [first, second] = seen.map((r) => r.headers.get('idempotency-key'));
    expect(first).toBeTruthy();
    expect(second).toBe(first);
  });

  it('a network error on a plain route: the retry is refused with UnknownOutcomeError', async () => {
    const instance = client();
    axiosRetry(instance, { retries: 2, retryCondition: noResponse });
    failNext = 1;
    const error = await rejection(instance.post('/v1/charges', { amount: 30 }));
    expect(oncelyErrorOf(error)?.code).toBe('ONCELY_UNKNOWN_OUTCOME');
    expect(seen).toHaveLength(1);
  });
});
