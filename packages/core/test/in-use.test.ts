import {
  createIdempotency,
  InFlightTimeoutError,
  type OncelyEvent,
  type PreparedRequest,
  type WireResponse,
} from '@oncely/core';
import { describe, expect, it } from 'vitest';
import { retryAfterMs } from '../src/classify.js';

// "Key in use" (Stripe's 409 idempotency_key_in_use): the provider still runs an earlier attempt.
// The pause before asking again is the one the provider asks for in Retry-After, when it says.

const URL_ = 'https://api.stripe.com/v1/charges';

function inUse(headers: Record<string, string> = {}): WireResponse {
  return {
    status: 409,
    headers: { 'content-type': 'application/json', ...headers },
    body: new TextEncoder().encode(JSON.stringify({ error: { code: 'idempotency_key_in_use' } })),
  };
}
const created: WireResponse = { status: 200, headers: {}, body: new TextEncoder().encode('{"id":"ch_1"}') };

function setup(script: WireResponse[]) {
  const events: OncelyEvent[] = [];
  const idem = createIdempotency({
    routes: [{ match: 'POST https://api.stripe.com/*', provider: 'stripe' }],
    wait: { timeout: '5s' },
    onEvent: (event) => events.push(event),
  });
  const sent: PreparedRequest[] = [];
  const send = async (prepared: PreparedRequest) => {
    sent.push(prepared);
    return script.shift() ?? created;
  };
  const request = {
    method: 'POST',
    url: URL_,
    headers: { authorization: 'Bearer sk_test_1' },
    body: '{"amount":1}',
  };
  return { idem, events, sent, send, request };
}

describe('"key in use" honours Retry-After', () => {
  it('asks again after the pause the provider names', async () => {
    const { idem, events, sent, send, request } = setup([inUse({ 'retry-after': '0' })]);
    const result = await idem.execute(request, send);

    expect(result.response.status).toBe(200);
    expect(sent).toHaveLength(2);
    expect(events.find((e) => e.type === 'provider-in-use')).toMatchObject({ delayMs: 0, attempt: 1 });
  });

  it('a Retry-After beyond the wait budget is a timeout with the outcome unknown, not an early re-send', async () => {
    const { idem, events, sent, send, request } = setup([inUse({ 'retry-after': '60' })]);
    await expect(idem.execute(request, send)).rejects.toBeInstanceOf(InFlightTimeoutError);

    expect(sent).toHaveLength(1);
    expect(events.find((e) => e.type === 'provider-in-use')).toMatchObject({ delayMs: 60_000 });
    const key = idem.keyFor(request)!.key;
    expect((await idem.store.get(key))?.status).toBe('unknown');
  });

  it('without Retry-After, the jittered backoff starts at 125–250 ms', async () => {
    const { idem, events, send, request } = setup([inUse()]);
    await idem.execute(request, send);
    const delay = (events.find((e) => e.type === 'provider-in-use') as { delayMs: number }).delayMs;
    expect(delay).toBeGreaterThanOrEqual(125);
    expect(delay).toBeLessThanOrEqual(250);
  });
});

describe('retryAfterMs', () => {
  const at = (value: string) =>
    retryAfterMs({ status: 409, headers: { 'retry-after': value }, body: new Uint8Array() }, 1_000_000);
  it('reads delay-seconds and HTTP-dates; anything else says nothing', () => {
    expect(at('3')).toBe(3000);
    expect(at(new Date(1_000_000 + 2000).toUTCString())).toBe(2000);
    expect(at(new Date(0).toUTCString())).toBe(0);
    expect(at('soon')).toBeUndefined();
    expect(at('-1')).toBeUndefined();
    expect(retryAfterMs({ status: 409, headers: {}, body: new Uint8Array() })).toBeUndefined();
  });
});
