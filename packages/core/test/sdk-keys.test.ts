import { randomUUID } from 'node:crypto';
import {
  ConfigError,
  createIdempotency,
  type OncelyEvent,
  type PreparedRequest,
  type WireResponse,
} from '@oncely/core';
import { describe, expect, it } from 'vitest';

// stripe-node sends `Idempotency-Key: stripe-node-retry-<uuid>` on every POST, a new one per call;
// Stainless SDKs (openai) `stainless-node-retry-<uuid>`. A job re-run must still be one write.

const created = (id: string): WireResponse => ({
  status: 200,
  headers: { 'content-type': 'application/json' },
  body: new TextEncoder().encode(JSON.stringify({ id })),
});

function setup(options: Parameters<typeof createIdempotency>[0] = {}) {
  const events: OncelyEvent[] = [];
  const idem = createIdempotency({ onEvent: (event) => events.push(event), ...options });
  const sent: PreparedRequest[] = [];
  const send = async (prepared: PreparedRequest) => {
    sent.push(prepared);
    return created(`obj_${sent.length}`);
  };
  return { idem, events, sent, send };
}

const charge = (key: string, url = 'https://api.stripe.com/v1/charges', amount = 100) => ({
  method: 'POST',
  url,
  headers: {
    authorization: 'Bearer sk_test_1',
    'content-type': 'application/x-www-form-urlencoded',
    'Idempotency-Key': key,
  },
  body: `amount=${amount}&currency=usd`,
});

describe('SDK-generated keys never become the operation key', () => {
  it("stripe-node's per-call key: a re-run with a new SDK key replays, and Stripe sees one stable key", async () => {
    const { idem, events, sent, send } = setup({
      routes: [{ match: 'POST https://api.stripe.com/*', provider: 'stripe' }],
    });
    const first = await idem.execute(charge(`stripe-node-retry-${randomUUID()}`), send);
    const rerun = await idem.execute(charge(`stripe-node-retry-${randomUUID()}`), send);

    expect(sent).toHaveLength(1);
    expect(rerun.replayed).toBe(true);
    expect(rerun.key).toBe(first.key);
    const wire = sent[0]!.setHeaders['idempotency-key'];
    expect(wire).toBeDefined();
    expect(wire).not.toMatch(/^stripe-node-retry-/);
    expect(events.filter((e) => e.type === 'sdk-key-replaced')).toHaveLength(2);
  });

  it("a Stainless SDK's key on a route without a preset: the body decides, and the header is rewritten", async () => {
    const { idem, sent, send } = setup();
    const url = 'https://api.openai.example/v1/files';
    await idem.execute(charge(`stainless-node-retry-${randomUUID()}`, url), send);
    const rerun = await idem.execute(charge(`stainless-node-retry-${randomUUID()}`, url), send);
    const other = await idem.execute(charge(`stainless-node-retry-${randomUUID()}`, url, 200), send);

    expect(rerun.replayed).toBe(true);
    expect(other.replayed).toBe(false);
    expect(sent).toHaveLength(2);
    // Each operation's header is stable and its own.
    expect(sent[0]!.setHeaders['idempotency-key']).toMatch(/^[0-9a-f]{64}$/);
    expect(sent[1]!.setHeaders['idempotency-key']).not.toBe(sent[0]!.setHeaders['idempotency-key']);
  });

  it('a key the caller chose still wins: two caller keys are two operations', async () => {
    const { idem, events, sent, send } = setup({
      routes: [{ match: 'POST https://api.stripe.com/*', provider: 'stripe' }],
    });
    await idem.execute(charge('order-1'), send);
    await idem.execute(charge('order-2'), send);

    expect(sent).toHaveLength(2);
    expect(sent[0]!.setHeaders['idempotency-key']).toBe('order-1');
    expect(events.some((e) => e.type === 'sdk-key-replaced')).toBe(false);
  });

  it('the list extends with sdkKeys (prefixes or RegExps), and a bad entry is a ConfigError', async () => {
    const { idem, sent, send } = setup({ sdkKeys: ['myco-sdk-', /^rnd_[0-9a-f]{8}$/] });
    const url = 'https://api.example/v1/orders';
    await idem.execute(charge('myco-sdk-1', url), send);
    await idem.execute(charge('myco-sdk-2', url), send);
    await idem.execute(charge('rnd_0000abcd', url), send);
    expect(sent).toHaveLength(1);

    expect(() => createIdempotency({ sdkKeys: [''] })).toThrow(ConfigError);
    expect(() => createIdempotency({ sdkKeys: 'x' as never })).toThrow(ConfigError);
  });
});
