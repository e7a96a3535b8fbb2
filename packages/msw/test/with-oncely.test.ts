import { createIdempotency, type OncelyEvent, type PreparedRequest, type Send } from '@oncely/core';
import { plainApi, stripeLike } from '@oncely/msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

/**
 * What users do with the emulators: drive their oncely-guarded automation against them. `send` is
 * a bare fetch (the undici plugin would do the same), so the tests need no plugin.
 */
const stripe = stripeLike({ baseUrl: 'https://api.stripe.com', requiredFields: ['amount'] });
const tickets = plainApi({ baseUrl: 'https://tickets.test' });
const server = setupServer(...stripe.handlers, ...tickets.handlers);

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  stripe.reset();
  tickets.reset();
});
afterAll(() => server.close());

function fetchSend(headers: Record<string, string>, body: string): Send {
  return async (prepared: PreparedRequest) => {
    const res = await fetch(prepared.url, {
      method: prepared.method,
      headers: { ...headers, ...prepared.setHeaders },
      body: prepared.body ?? body,
    });
    return {
      status: res.status,
      headers: Object.fromEntries(res.headers),
      body: new Uint8Array(await res.arrayBuffer()),
    };
  };
}

describe('oncely against the emulators', () => {
  it('stripe preset: a lost response is re-sent under the same key and read as the provider replay', async () => {
    const events: OncelyEvent[] = [];
    const idem = createIdempotency({
      routes: [{ match: 'POST https://api.stripe.com/v1/*', provider: 'stripe' }],
      onEvent: (event) => events.push(event),
    });
    const body = JSON.stringify({ amount: 100, metadata: { order_id: 'o-1' } });
    const headers = { 'content-type': 'application/json' };
    const request = { method: 'POST', url: 'https://api.stripe.com/v1/charges', headers, body };
    stripe.inject({ dropAfterCommit: 1 });

    await expect(idem.execute(request, fetchSend(headers, body))).rejects.toThrow(TypeError);
    const result = await idem.execute(request, fetchSend(headers, body));

    expect(result.response.status).toBe(200);
    expect(stripe.stats()).toMatchObject({ writes: 1, replays: 1, duplicates: 0 });
    expect(events.find((e) => e.type === 'completed')).toMatchObject({ providerReplayed: true });
  });

  it('plain API: a reconcile hook finds the ticket by ref instead of creating it twice', async () => {
    const idem = createIdempotency({
      routes: [
        {
          match: 'POST https://tickets.test/tickets',
          key: { fields: ['ref'] },
          reconcile: async (ctx) => {
            const ref = (ctx.request.json as { ref: string }).ref;
            const found = await fetch(`https://tickets.test/lookup?ref=${ref}`);
            if (found.status === 404) return ctx.absent();
            return ctx.found({ status: 201, body: await found.json() });
          },
        },
      ],
    });
    const body = JSON.stringify({ ref: 'T-1', title: 'printer on fire' });
    const headers = { 'content-type': 'application/json' };
    const request = { method: 'POST', url: 'https://tickets.test/tickets', headers, body };
    tickets.inject({ dropAfterCommit: 1 });

    await expect(idem.execute(request, fetchSend(headers, body))).rejects.toThrow(TypeError);
    const result = await idem.execute(request, fetchSend(headers, body));

    expect(result.replayed).toBe(true);
    expect(JSON.parse(new TextDecoder().decode(result.response.body))).toMatchObject({ ref: 'T-1' });
    expect(tickets.stats()).toMatchObject({ writes: 1, duplicates: 0 });
  });
});
