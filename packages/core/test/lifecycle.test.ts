import {
  createIdempotency,
  type IdempotencyOptions,
  InFlightTimeoutError,
  memoryStore,
  NOT_EXECUTED_STATUSES,
  type OncelyEvent,
  PayloadMismatchError,
  UnknownOutcomeError,
} from '@oncely/core';
import { describe, expect, it, vi } from 'vitest';
import { charge, deferred, errorWithCode, fakeSend, jsonResponse, ok, text } from './helpers.js';

function setup(options: IdempotencyOptions = {}) {
  const store = options.store ?? memoryStore();
  const events: OncelyEvent[] = [];
  const idem = createIdempotency({ namespace: 'life', ...options, store, onEvent: (e) => events.push(e) });
  const types = () => events.map((e) => e.type);
  return { store, idem, events, types };
}

describe('one logical operation, many attempts', () => {
  it('3 differently-serialised retries through 2 instances sharing a store → one key, one send', async () => {
    const store = memoryStore();
    const a = createIdempotency({ namespace: 'shared', store });
    const b = createIdempotency({ namespace: 'shared', store });
    const send = ok();
    const first = await a.execute(charge({ amount: 100, currency: 'eur' }), send);
    const retries = [
      await a.execute(charge('{"currency":"eur","amount":100}'), send),
      await b.execute(charge(Buffer.from('{ "amount": 100, "currency": "eur" }')), send),
      await b.execute({ ...charge(), body: { currency: 'eur', amount: 100 } }, send),
    ];
    expect(send).toHaveBeenCalledTimes(1);
    expect(new Set([first.key, ...retries.map((r) => r.key)]).size).toBe(1);
    for (const retry of retries) {
      expect(retry.replayed).toBe(true);
      expect(text(retry.response)).toBe(text(first.response));
      expect(retry.response.headers['oncely-replayed']).toBe('true');
    }
  });

  it('100 concurrent identical calls → one send, 99 replays equal to the first', async () => {
    const { idem, store } = setup();
    const gate = deferred();
    const reserve = vi.spyOn(store, 'reserve');
    const send = fakeSend(async (_, n) => {
      await gate.promise;
      return jsonResponse(201, { id: `ch_${n}` });
    });
    const calls = Array.from({ length: 100 }, () => idem.execute(charge({ amount: 5 }), send));
    gate.resolve();
    const results = await Promise.all(calls);
    expect(send).toHaveBeenCalledTimes(1);
    expect(reserve).toHaveBeenCalledTimes(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(new Set(results.map((r) => text(r.response)))).toEqual(new Set(['{"id":"ch_1"}']));
  });

  it('100 concurrent different calls → 100 sends', async () => {
    const { idem } = setup();
    const send = ok();
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => idem.execute(charge({ amount: i }), send)),
    );
    expect(send).toHaveBeenCalledTimes(100);
    expect(new Set(results.map((r) => r.key)).size).toBe(100);
  });

  it('unguarded methods and skipped routes pass through without a store call', async () => {
    const routes = [{ match: /\/webhooks\//, skip: true }];
    const { idem, store } = setup({ routes });
    const reserve = vi.spyOn(store, 'reserve');
    const send = ok();
    const get = await idem.execute(charge(undefined, { method: 'GET', body: undefined }), send);
    const hook = await idem.execute(charge({ a: 1 }, { url: 'https://api.example.com/webhooks/in' }), send);
    const skipped = await idem.execute(charge({ a: 1 }), send, { skip: true });
    expect([get, hook, skipped].map((r) => r.guarded)).toEqual([false, false, false]);
    expect(send.calls.every((p) => Object.keys(p.setHeaders).length === 0 && p.body === undefined)).toBe(
      true,
    );
    expect(reserve).not.toHaveBeenCalled();
  });
});

describe('classification table', () => {
  it('2xx → completed with the response stored (sensitive headers dropped)', async () => {
    const { idem, store } = setup();
    const send = fakeSend(() =>
      jsonResponse(201, { id: 'ch_1' }, { 'set-cookie': 'sid=secret', 'x-request-id': 'r1' }),
    );
    const result = await idem.execute(charge(), send);
    const record = await store.get(result.key!);
    expect(record?.status).toBe('completed');
    expect(record?.response?.status).toBe(201);
    expect(record?.response?.headers).toEqual({ 'content-type': 'application/json', 'x-request-id': 'r1' });
  });

  it.each(NOT_EXECUTED_STATUSES)(
    '%i → not executed: the key is released and the next attempt sends',
    async (status) => {
      const { idem, store } = setup();
      const send = fakeSend((_, n) =>
        n === 1 ? jsonResponse(status, { error: 'no' }) : jsonResponse(200, { id: 'ok' }),
      );
      const first = await idem.execute(charge(), send);
      expect(first.response.status).toBe(status);
      expect(await store.get(first.key!)).toBeUndefined();
      const second = await idem.execute(charge(), send);
      expect(second.replayed).toBe(false);
      expect(send).toHaveBeenCalledTimes(2);
    },
  );

  it('other 4xx (402 declined) → executed: completed and replayed', async () => {
    const { idem } = setup();
    const send = fakeSend(() => jsonResponse(402, { error: 'card_declined' }));
    await idem.execute(charge(), send);
    const again = await idem.execute(charge(), send);
    expect(again.replayed).toBe(true);
    expect(again.response.status).toBe(402);
    expect(send).toHaveBeenCalledTimes(1);
  });

  it.each(['ECONNREFUSED', 'ENOTFOUND', 'UND_ERR_CONNECT_TIMEOUT', 'CERT_HAS_EXPIRED'])(
    'error before any byte was sent (%s) → released, the error reaches the caller',
    async (code) => {
      const { idem, store, types } = setup();
      const send = fakeSend(() => {
        throw errorWithCode(code);
      });
      await expect(idem.execute(charge(), send)).rejects.toMatchObject({ code });
      expect(await store.get(idem.keyFor(charge())!.key)).toBeUndefined();
      expect(types()).toContain('released');
    },
  );

  it.each(['ECONNRESET', 'ETIMEDOUT', 'UND_ERR_SOCKET'])(
    'error after sending (%s) → unknown; the next attempt is never a blind re-send',
    async (code) => {
      const { idem, store } = setup();
      const send = fakeSend(() => {
        throw errorWithCode(code);
      });
      await expect(idem.execute(charge(), send)).rejects.toMatchObject({ code });
      const record = await store.get(idem.keyFor(charge())!.key);
      expect(record).toMatchObject({ status: 'unknown', leaseOwner: null });
      await expect(idem.execute(charge(), send)).rejects.toBeInstanceOf(UnknownOutcomeError);
      expect(send).toHaveBeenCalledTimes(1);
    },
  );

  it('5xx → unknown; the caller gets the live response', async () => {
    const { idem, store } = setup();
    const send = fakeSend(() => jsonResponse(502, { error: 'bad gateway' }));
    const result = await idem.execute(charge(), send);
    expect(result.response.status).toBe(502);
    expect((await store.get(result.key!))?.status).toBe('unknown');
  });

  it('crash while in_flight → the lease expires → treated as unknown (no blind re-send)', async () => {
    const { idem, store } = setup();
    const { key, fingerprint } = idem.keyFor(charge())!;
    // A process that reserved and died: nobody extends its lease.
    await store.reserve({
      key,
      fingerprint,
      scope: 's',
      method: 'POST',
      target: 't',
      owner: 'dead',
      leaseMs: 50,
      ttlMs: 60_000,
    });
    const send = ok();
    await expect(idem.execute(charge(), send)).rejects.toBeInstanceOf(UnknownOutcomeError);
    expect(send).not.toHaveBeenCalled();
  });
});

describe('conflict table', () => {
  it('none → reserve and send; expired → reserve and send again', async () => {
    const { idem, store } = setup({ ttl: 80, lease: 40 });
    const send = ok();
    const first = await idem.execute(charge(), send);
    expect(first.replayed).toBe(false);
    await vi.waitFor(async () => expect(await store.get(first.key!)).toBeUndefined(), {
      timeout: 5_000,
      interval: 10,
    });
    const second = await idem.execute(charge(), send);
    expect(second.replayed).toBe(false);
    expect(send).toHaveBeenCalledTimes(2);
  });

  it('in_flight, lease alive, same payload → waits for the twin (another instance), then replays', async () => {
    const store = memoryStore();
    const a = setup({ store });
    const b = setup({ store });
    const gate = deferred();
    const slow = fakeSend(async () => {
      await gate.promise;
      return jsonResponse(201, { id: 'ch_slow' });
    });
    const owner = a.idem.execute(charge(), slow);
    await vi.waitFor(() => expect(slow).toHaveBeenCalled());
    const never = ok();
    const waiter = b.idem.execute(charge(), never);
    await vi.waitFor(() => expect(b.types()).toContain('waiting'));
    gate.resolve();
    const [ownerResult, waiterResult] = await Promise.all([owner, waiter]);
    expect(waiterResult.replayed).toBe(true);
    expect(text(waiterResult.response)).toBe(text(ownerResult.response));
    expect(never).not.toHaveBeenCalled();
  });

  it('in_flight, lease alive, same payload → InFlightTimeoutError after wait.timeout, nothing sent', async () => {
    const store = memoryStore();
    const a = setup({ store });
    const b = setup({ store, wait: { timeout: 30 } });
    const gate = deferred();
    const owner = a.idem.execute(
      charge(),
      fakeSend(async () => {
        await gate.promise;
        return jsonResponse(200, {});
      }),
    );
    await vi.waitFor(() => expect(a.types()).toContain('sent'));
    const never = ok();
    await expect(b.idem.execute(charge(), never)).rejects.toBeInstanceOf(InFlightTimeoutError);
    expect(never).not.toHaveBeenCalled();
    gate.resolve();
    await owner;
  });

  it('in_flight, lease alive, different payload → PayloadMismatchError, nothing sent', async () => {
    const store = memoryStore();
    const a = setup({ store });
    const gate = deferred();
    const owner = a.idem.execute(
      charge({ amount: 1 }),
      fakeSend(async () => {
        await gate.promise;
        return jsonResponse(200, {});
      }),
      { key: 'k' },
    );
    await vi.waitFor(() => expect(a.types()).toContain('sent'));
    const never = ok();
    await expect(a.idem.execute(charge({ amount: 2 }), never, { key: 'k' })).rejects.toBeInstanceOf(
      PayloadMismatchError,
    );
    expect(never).not.toHaveBeenCalled();
    gate.resolve();
    await owner;
  });

  it('in_flight, lease expired: same payload → taken over (reconcile), different payload → mismatch', async () => {
    const reconcile = vi.fn(() => ({ absent: true as const }));
    const { idem, store, types } = setup({ routes: [{ match: 'POST /v1/*', reconcile }] });
    const { key, fingerprint } = idem.keyFor(charge({ amount: 1 }), { key: 'k' })!;
    await store.reserve({
      key,
      fingerprint,
      scope: 's',
      method: 'POST',
      target: 't',
      owner: 'dead',
      leaseMs: 30,
      ttlMs: 60_000,
    });
    await store.waitFor(key, 5_000); // returns when the dead owner's lease runs out
    const never = ok();
    await expect(idem.execute(charge({ amount: 2 }), never, { key: 'k' })).rejects.toBeInstanceOf(
      PayloadMismatchError,
    );
    const send = ok();
    const result = await idem.execute(charge({ amount: 1 }), send, { key: 'k' });
    expect(types()).toContain('takeover');
    expect(reconcile).toHaveBeenCalledTimes(1);
    expect(send).toHaveBeenCalledTimes(1);
    expect(never).not.toHaveBeenCalled();
    expect((await store.get(result.key!))?.status).toBe('completed');
  });

  it('completed: same payload → replay without sending; different → mismatch; different + override → sent and audited', async () => {
    const { idem, store, types } = setup();
    const send = ok();
    await idem.execute(charge({ amount: 1 }), send, { key: 'order-1' });
    const replay = await idem.execute(charge({ amount: 1 }), send, { key: 'order-1' });
    expect(replay.replayed).toBe(true);
    await expect(idem.execute(charge({ amount: 2 }), send, { key: 'order-1' })).rejects.toBeInstanceOf(
      PayloadMismatchError,
    );
    expect(send).toHaveBeenCalledTimes(1);
    const override = { reason: 'amount corrected in ticket #12', reviewer: 'alice' };
    const changed = await idem.execute(charge({ amount: 2 }), send, { key: 'order-1', override });
    expect(changed.replayed).toBe(false);
    expect(send).toHaveBeenCalledTimes(2);
    const record = await store.get(changed.key!);
    expect(record).toMatchObject({ status: 'completed', revision: 1 });
    expect(record?.audit).toContainEqual(expect.objectContaining({ action: 'override', ...override }));
    expect(types()).toContain('override');
    // The new payload is now the one the key replays.
    expect((await idem.execute(charge({ amount: 2 }), send, { key: 'order-1' })).replayed).toBe(true);
  });

  it('completed: an operator-granted override is consumed by the next different payload, once', async () => {
    const { idem, store } = setup();
    const send = ok();
    const first = await idem.execute(charge({ amount: 1 }), send, { key: 'o' });
    await store.grantOverride(
      first.key!,
      { reason: 'fix', reviewer: 'bob' },
      { at: Date.now(), action: 'override-granted' },
      { token: (await store.get(first.key!))!.fencingToken, status: 'completed' },
    );
    await idem.execute(charge({ amount: 2 }), send, { key: 'o' });
    expect(send).toHaveBeenCalledTimes(2);
    await expect(idem.execute(charge({ amount: 3 }), send, { key: 'o' })).rejects.toBeInstanceOf(
      PayloadMismatchError,
    );
  });

  it('unknown, same payload: reconcile found → completed without sending', async () => {
    const reconcile = vi.fn((ctx: { found: (r: { status: number; body: unknown }) => unknown }) =>
      ctx.found({ status: 201, body: { id: 'ch_found' } }),
    );
    const { idem, store } = setup({ routes: [{ match: 'POST /v1/charges', reconcile: reconcile as never }] });
    const send = fakeSend((_, n) => {
      if (n === 1) throw errorWithCode('ECONNRESET');
      return jsonResponse(200, {});
    });
    await expect(idem.execute(charge(), send)).rejects.toMatchObject({ code: 'ECONNRESET' });
    const result = await idem.execute(charge(), send);
    expect(result.replayed).toBe(true);
    expect(JSON.parse(text(result.response))).toEqual({ id: 'ch_found' });
    expect(send).toHaveBeenCalledTimes(1);
    expect((await store.get(result.key!))?.status).toBe('completed');
    expect((await idem.execute(charge(), send)).replayed).toBe(true);
  });

  it('unknown, same payload: reconcile absent → sends; undecided → UnknownOutcomeError and still unknown', async () => {
    let verdict: 'absent' | 'undecided' = 'undecided';
    const { idem, store } = setup({
      routes: [
        { match: 'POST /v1/charges', reconcile: (ctx) => (verdict === 'absent' ? ctx.absent() : undefined) },
      ],
    });
    const send = fakeSend((_, n) => (n === 1 ? jsonResponse(503, {}) : jsonResponse(201, { id: 'ch_2' })));
    const first = await idem.execute(charge(), send);
    expect(first.response.status).toBe(503);
    await expect(idem.execute(charge(), send)).rejects.toBeInstanceOf(UnknownOutcomeError);
    expect((await store.get(first.key!))?.status).toBe('unknown');
    verdict = 'absent';
    const sent = await idem.execute(charge(), send);
    expect(sent.response.status).toBe(201);
    expect(send).toHaveBeenCalledTimes(2);
  });

  it('unknown with a provider-native key → re-sent under the same provider key', async () => {
    const { idem } = setup({ routes: [{ match: 'POST https://api.stripe.com/v1/*', provider: 'stripe' }] });
    const request = charge({ amount: 7 }, { url: 'https://api.stripe.com/v1/charges' });
    const send = fakeSend((_, n) => {
      if (n === 1) throw errorWithCode('ECONNRESET');
      return jsonResponse(200, { id: 'ch_1' }, { 'idempotent-replayed': 'true' });
    });
    await expect(idem.execute(request, send)).rejects.toMatchObject({ code: 'ECONNRESET' });
    const result = await idem.execute(request, send);
    expect(result.response.status).toBe(200);
    const [first, second] = send.calls;
    expect(first!.setHeaders['idempotency-key']).toBeDefined();
    expect(second!.setHeaders['idempotency-key']).toBe(first!.setHeaders['idempotency-key']);
  });

  it('unknown, different payload → mismatch unless override', async () => {
    const { idem } = setup();
    const send = fakeSend((_, n) => (n === 1 ? jsonResponse(500, {}) : jsonResponse(200, { id: 'new' })));
    await idem.execute(charge({ amount: 1 }), send, { key: 'u' });
    await expect(idem.execute(charge({ amount: 2 }), send, { key: 'u' })).rejects.toBeInstanceOf(
      PayloadMismatchError,
    );
    const overridden = await idem.execute(charge({ amount: 2 }), send, {
      key: 'u',
      override: { reason: 'first attempt verified absent', reviewer: 'carol' },
    });
    expect(overridden.response.status).toBe(200);
    expect(send).toHaveBeenCalledTimes(2);
  });
});

describe('provider answers', () => {
  const stripe = { routes: [{ match: 'POST https://api.stripe.com/v1/*', provider: 'stripe' }] };
  const request = () => charge({ amount: 7 }, { url: 'https://api.stripe.com/v1/charges' });

  it('409 "key in use" → waits and re-sends with the same key', async () => {
    const { idem, types } = setup(stripe);
    const inUse = jsonResponse(409, { error: { code: 'idempotency_key_in_use' } });
    const send = fakeSend((_, n) => (n === 1 ? inUse : jsonResponse(200, { id: 'ch_1' })));
    const result = await idem.execute(request(), send);
    expect(result.response.status).toBe(200);
    expect(types()).toContain('provider-in-use');
    expect(send.calls[0]!.setHeaders).toEqual(send.calls[1]!.setHeaders);
  });

  it('409 "in use" forever → bounded wait, then InFlightTimeoutError (no tight loop)', async () => {
    const { idem } = setup({ ...stripe, wait: { timeout: 600 } });
    const send = fakeSend(() => jsonResponse(409, { error: { code: 'idempotency_key_in_use' } }));
    await expect(idem.execute(request(), send)).rejects.toBeInstanceOf(InFlightTimeoutError);
    expect(send.mock.calls.length).toBeLessThanOrEqual(4);
  });

  it('400 idempotency_error → PayloadMismatchError with the provider message', async () => {
    const { idem } = setup(stripe);
    const message = 'Keys for idempotent requests can only be used with the same parameters';
    const send = fakeSend(() => jsonResponse(400, { error: { type: 'idempotency_error', message } }));
    await expect(idem.execute(request(), send)).rejects.toMatchObject({
      code: 'ONCELY_PAYLOAD_MISMATCH',
      providerMessage: message,
    });
  });

  it('a provider replay marker completes the record (reconciled from the provider, not tracked twice)', async () => {
    const { idem, events } = setup(stripe);
    const send = fakeSend(() => jsonResponse(200, { id: 'ch_1' }, { 'idempotent-replayed': 'true' }));
    await idem.execute(request(), send);
    expect(events).toContainEqual(expect.objectContaining({ type: 'completed', providerReplayed: true }));
  });
});

describe('provider names an existing resource (GoCardless-style conflict)', () => {
  const conflict = jsonResponse(409, {
    error: {
      message: 'A resource has already been created with this idempotency key',
      errors: [{ reason: 'idempotent_creation_conflict', links: { conflicting_resource_id: 'PM123' } }],
    },
  });
  const request = () =>
    charge(
      { payments: { amount: 100 } },
      {
        url: 'https://api.gocardless.com/payments',
        headers: { 'content-type': 'application/json', authorization: 'Bearer gc_token' },
      },
    );

  it('fetches the named resource with the original credentials and records it, without a second write', async () => {
    const fetched: { url: string; headers: Record<string, string> }[] = [];
    const fetchExisting = async (url: string, init: { headers: Record<string, string> }) => {
      fetched.push({ url, headers: init.headers });
      return new Response(JSON.stringify({ payments: { id: 'PM123' } }), { status: 200 });
    };
    const { idem, store, events } = setup({
      routes: [{ match: 'POST https://api.gocardless.com/*', provider: 'gocardless' }],
      fetch: fetchExisting as never,
    });
    const send = fakeSend(() => conflict);
    const result = await idem.execute(request(), send);
    expect(result.replayed).toBe(true);
    expect(JSON.parse(text(result.response))).toEqual({ payments: { id: 'PM123' } });
    expect(fetched).toEqual([
      { url: 'https://api.gocardless.com/payments/PM123', headers: { authorization: 'Bearer gc_token' } },
    ]);
    expect((await store.get(result.key!))?.status).toBe('completed');
    expect(events).toContainEqual(expect.objectContaining({ type: 'reconciled', verdict: 'found' }));
    expect((await idem.execute(request(), send)).replayed).toBe(true);
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('a failed look-up leaves the outcome unknown (UnknownOutcomeError), never a blind re-send', async () => {
    const { idem, store } = setup({
      routes: [{ match: 'POST https://api.gocardless.com/*', provider: 'gocardless' }],
      fetch: (async () => new Response('nope', { status: 500 })) as never,
    });
    const send = fakeSend(() => conflict);
    await expect(idem.execute(request(), send)).rejects.toBeInstanceOf(UnknownOutcomeError);
    expect((await store.get(idem.keyFor(request())!.key))?.status).toBe('unknown');
  });
});

describe('explicit keys, body-field providers and aborts', () => {
  const square = { routes: [{ match: 'POST https://connect.squareup.com/*', provider: 'square' }] };
  const payment = (body: object) => charge(body, { url: 'https://connect.squareup.com/v2/payments' });

  it('an explicit key still reaches a body-field provider', async () => {
    const { idem } = setup(square);
    const send = ok();
    await idem.execute(payment({ amount_money: { amount: 100 } }), send, { key: 'pay-1' });
    expect(JSON.parse(String(send.calls[0]!.body))).toMatchObject({ idempotency_key: 'pay-1' });
  });

  it('a body that already carries the key is sent unchanged', async () => {
    const { idem } = setup(square);
    const send = ok();
    await idem.execute(payment({ amount_money: { amount: 100 }, idempotency_key: 'mine' }), send);
    expect(send.calls[0]!.body).toBeUndefined();
  });

  it('aborting while a same-process twin runs rejects the waiter only', async () => {
    const { idem } = setup();
    const gate = deferred();
    const send = fakeSend(async () => {
      await gate.promise;
      return jsonResponse(201, { id: 'x' });
    });
    const owner = idem.execute(charge(), send);
    const controller = new AbortController();
    const waiter = idem.execute(charge(), send, { signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(waiter).rejects.toThrow('caller gave up');
    gate.resolve();
    expect((await owner).replayed).toBe(false);
  });

  it('aborting while the provider says "in use" leaves the record unknown, not stuck in flight', async () => {
    const { idem, store } = setup({
      routes: [{ match: 'POST https://api.stripe.com/v1/*', provider: 'stripe' }],
    });
    const controller = new AbortController();
    const send = fakeSend(() => {
      queueMicrotask(() => controller.abort(new Error('stop')));
      return jsonResponse(409, { error: { code: 'idempotency_key_in_use' } });
    });
    const request = charge({ a: 1 }, { url: 'https://api.stripe.com/v1/charges' });
    await expect(idem.execute(request, send, { signal: controller.signal })).rejects.toThrow('stop');
    expect((await store.get(idem.keyFor(request)!.key))?.status).toBe('unknown');
  });
});

describe('reconcile hooks hold the lease', () => {
  it('a slow hook keeps its lease: a twin waits instead of taking over, and only one send happens', async () => {
    const store = memoryStore();
    const hookGate = deferred();
    const hookStarted = deferred();
    const routes = [
      {
        match: 'POST /v1/charges',
        reconcile: async (ctx: { absent: () => never }) => {
          hookStarted.resolve();
          await hookGate.promise;
          return ctx.absent();
        },
      },
    ];
    const a = setup({ store, lease: 60, ttl: '1h', routes: routes as never });
    const b = setup({ store, lease: 60, ttl: '1h', routes: routes as never });
    const send = fakeSend((_, n) => (n === 1 ? jsonResponse(503, {}) : jsonResponse(201, { id: 'ch_1' })));
    await a.idem.execute(charge(), send); // 503 → unknown
    const owner = a.idem.execute(charge(), send); // takes over, runs the slow hook
    await hookStarted.promise;
    const twin = b.idem.execute(charge(), send);
    // Several lease lengths pass while the hook runs (the twin wakes at each lease end and waits again).
    await vi.waitFor(
      () => expect(b.types().filter((t) => t === 'waiting').length).toBeGreaterThanOrEqual(4),
      {
        timeout: 10_000,
        interval: 5,
      },
    );
    hookGate.resolve();
    const [ownerResult, twinResult] = await Promise.all([owner, twin]);
    expect(send).toHaveBeenCalledTimes(2); // the 503 and the one send after "absent"
    expect(ownerResult.response.status).toBe(201);
    expect(twinResult.replayed).toBe(true);
    expect(b.types()).not.toContain('takeover');
  });

  it('"absent" after losing the key does not send: the loser looks again and replays', async () => {
    const store = memoryStore();
    const { idem } = setup({
      store,
      routes: [{ match: 'POST /v1/charges', reconcile: (ctx) => ctx.absent() }],
    });
    const send = fakeSend((_, n) => (n === 1 ? jsonResponse(503, {}) : jsonResponse(201, { id: 'ch_1' })));
    await idem.execute(charge(), send);
    const { key } = idem.keyFor(charge())!;
    // Between the hook's verdict and the send, an operator resolves the key (fencing the owner out).
    const extend = vi.spyOn(store, 'extend').mockImplementationOnce(async (k, token) => {
      await store.resolve(
        k,
        {
          as: 'completed',
          response: { status: 201, headers: {}, body: Buffer.from('{"id":"op"}').toString('base64') },
          ttlMs: 60_000,
        },
        { at: Date.now(), action: 'resolved-completed', reason: 'checked', reviewer: 'alice' },
        { token, status: 'in_flight' },
      );
      return store.extend(k, token, 1000);
    });
    const result = await idem.execute(charge(), send);
    expect(extend).toHaveBeenCalled();
    expect(result.replayed).toBe(true);
    expect(text(result.response)).toBe('{"id":"op"}');
    expect(send).toHaveBeenCalledTimes(1);
    expect((await store.get(key))?.status).toBe('completed');
  });
});
