import { createIdempotency, memoryStore } from '@oncely/core';
import got, { RequestError } from 'got';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { idempotency, oncely } from '../src/index.js';
import { POST_RETRY, rejection } from './harness.js';

const API = 'https://api.stripe.test';

/** A Stripe-like endpoint in MSW: deduplicates by Idempotency-Key; `failNext` fails after committing. */
function stripeLike() {
  const saved = new Map<string, object>();
  const state = { writes: 0, calls: 0, failNext: undefined as 'status-500' | 'network' | undefined };
  const handler = http.post(`${API}/v1/charges`, async ({ request }) => {
    state.calls++;
    const key = request.headers.get('idempotency-key');
    const previous = key ? saved.get(key) : undefined;
    if (previous) return HttpResponse.json(previous, { headers: { 'idempotent-replayed': 'true' } });
    const charge = { id: `ch_${++state.writes}`, ...((await request.json()) as object) };
    if (key) saved.set(key, charge);
    const fault = state.failNext;
    state.failNext = undefined;
    if (fault === 'network') return HttpResponse.error();
    if (fault === 'status-500') return HttpResponse.json({ error: 'internal' }, { status: 500 });
    return HttpResponse.json(charge);
  });
  const lookup = http.get(`${API}/v1/charges`, ({ request }) =>
    HttpResponse.json({ data: [], key: request.headers.get('idempotency-key') }),
  );
  return { state, handlers: [handler, lookup] };
}

describe('got through MSW (intercepted below got, above the network)', () => {
  const stripe = stripeLike();
  const mock = setupServer(...stripe.handlers);
  const routes = [{ match: 'POST https://api.stripe.test/v1/*', provider: 'stripe' }];

  beforeAll(() => mock.listen({ onUnhandledRequest: 'error' }));
  afterEach(() => {
    stripe.state.writes = 0;
    stripe.state.calls = 0;
  });
  afterAll(() => mock.close());

  const client = (extra = {}) =>
    got
      .extend({ prefixUrl: API, ...extra })
      .extend(idempotency(createIdempotency({ routes, store: memoryStore() })));

  it('a replay never reaches MSW, and looks like the live response', async () => {
    const api = client();
    const live = await api.post('v1/charges', { json: { amount: 1 } });
    const replay = await api.post('v1/charges', { json: { amount: 1 } });
    expect(stripe.state.calls).toBe(1);
    expect(replay.isFromCache).toBe(true);
    expect(replay.body).toBe(live.body);
    expect(JSON.parse(replay.body)).toEqual({ id: 'ch_1', amount: 1 });
  });

  it('got retry after a 500 that committed: the re-send carries the same key, MSW sees one write', async () => {
    stripe.state.failNext = 'status-500';
    const charge = await client(POST_RETRY)
      .post('v1/charges', { json: { amount: 2 } })
      .json();
    expect(charge).toEqual({ id: 'ch_1', amount: 2 });
    expect(stripe.state).toMatchObject({ writes: 1, calls: 2 });
  });

  it('a network error after commit: got does not retry an unknown error, the next call re-sends under the key', async () => {
    const api = client(POST_RETRY);
    stripe.state.failNext = 'network';
    const error = await rejection(
      api.post('v1/charges', { json: { amount: 3 }, context: oncely({ key: 'c-3' }) }),
    );
    expect(error).toBeInstanceOf(RequestError);
    const again = await api.post('v1/charges', { json: { amount: 3 }, context: oncely({ key: 'c-3' }) });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(stripe.state).toMatchObject({ writes: 1, calls: 2 });
  });

  it('GET passes through to MSW untouched', async () => {
    const list = await client().get('v1/charges').json();
    expect(list).toEqual({ data: [], key: null });
  });
});
