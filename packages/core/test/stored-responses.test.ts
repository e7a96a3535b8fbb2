import { randomBytes } from 'node:crypto';
import {
  ConfigError,
  createIdempotency,
  type IdempotencyOptions,
  memoryStore,
  ReplayUnavailableError,
  type WireResponse,
} from '@oncely/core';
import { describe, expect, it } from 'vitest';
import { charge, errorWithCode, fakeSend, jsonResponse, ok } from './helpers.js';

/**
 * What reaches the store from a response, and what comes back out of it: at-rest encryption,
 * the `redactResponse` hook, CR/LF refusal on reconcile-found responses, and the scope options
 * (`credentialHeaders`, `volatileHeaders`). Every test builds its own instance and memory store.
 */

function setup(options: Omit<IdempotencyOptions, 'namespace' | 'store'> = {}, store = memoryStore()) {
  return { store, idem: createIdempotency({ namespace: 'stored', store, ...options }) };
}

const text = (response: WireResponse) => Buffer.from(response.body).toString('utf8');
const OAUTH = 'ya29.very-secret-access-token';

describe('encryption at rest', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32).toString('base64');

  it('the stored record holds no plaintext header or body; a replay opens it', async () => {
    const { idem, store } = setup({ encryption: { keys: { k1 }, current: 'k1' } });
    const send = fakeSend(() => jsonResponse(201, { id: 'ch_plain_1' }, { 'x-request-id': 'req_visible' }));
    const first = await idem.execute(charge(), send);
    const record = await store.get(first.key!);
    expect(record?.response?.sealed).toMatch(/^v1\.k1\./);
    expect(record?.response?.body).toBeUndefined();
    const raw = JSON.stringify(record);
    expect(raw).not.toContain('ch_plain_1');
    expect(raw).not.toContain('req_visible');
    expect(raw).not.toContain(Buffer.from('{"id":"ch_plain_1"}').toString('base64'));

    const replay = await idem.execute(charge(), send);
    expect(replay.replayed).toBe(true);
    expect(JSON.parse(text(replay.response))).toEqual({ id: 'ch_plain_1' });
    expect(replay.response.headers['x-request-id']).toBe('req_visible');
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('rotation: records sealed under the old key still replay once a new key is current', async () => {
    const store = memoryStore();
    const before = setup({ encryption: { keys: { k1 }, current: 'k1' } }, store).idem;
    const send = ok();
    await before.execute(charge(), send);
    const after = setup({ encryption: { keys: { k1, k2 }, current: 'k2' } }, store).idem;
    const replay = await after.execute(charge(), send);
    expect(replay.replayed).toBe(true);
    expect(JSON.parse(text(replay.response))).toEqual({ id: 'ch_1' });
    // A fresh record is sealed with the current key.
    const fresh = await after.execute(charge({ amount: 7 }), send);
    expect((await store.get(fresh.key!))?.response?.sealed).toMatch(/^v1\.k2\./);
  });

  it('a sealed record without the keys (or with the wrong ones) fails the replay clearly; nothing is sent again', async () => {
    const store = memoryStore();
    const send = ok();
    await setup({ encryption: { keys: { k1 }, current: 'k1' } }, store).idem.execute(charge(), send);
    await expect(setup({}, store).idem.execute(charge(), send)).rejects.toBeInstanceOf(
      ReplayUnavailableError,
    );
    const wrong = setup({ encryption: { keys: { k1: randomBytes(32) }, current: 'k1' } }, store).idem;
    await expect(wrong.execute(charge(), send)).rejects.toThrow(/does not open/);
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('bad keys are a ConfigError at construction', () => {
    expect(() => setup({ encryption: { keys: { k1: randomBytes(16) }, current: 'k1' } })).toThrow(
      ConfigError,
    );
    expect(() => setup({ encryption: { keys: { k1 }, current: 'nope' } })).toThrow(ConfigError);
  });
});

describe('redactResponse', () => {
  const redact = (response: WireResponse): WireResponse => {
    const body = JSON.parse(text(response)) as Record<string, unknown>;
    return { ...response, body: Buffer.from(JSON.stringify({ ...body, access_token: '[redacted]' })) };
  };

  it('the caller of the attempt gets the live body; the store and every replay get the redacted one', async () => {
    const { idem, store } = setup({ redactResponse: redact });
    const send = fakeSend(() => jsonResponse(200, { access_token: OAUTH, id: 'tok_1' }));
    const first = await idem.execute(charge(), send);
    expect(JSON.parse(text(first.response)).access_token).toBe(OAUTH);
    expect(JSON.stringify(await store.get(first.key!))).not.toContain(
      Buffer.from(OAUTH).toString('base64').slice(0, 12),
    );
    const replay = await idem.execute(charge(), send);
    expect(replay.replayed).toBe(true);
    expect(JSON.parse(text(replay.response))).toEqual({ access_token: '[redacted]', id: 'tok_1' });
  });

  it.each([
    ['returns nothing', () => undefined],
    [
      'throws',
      () => {
        throw new Error('boom');
      },
    ],
  ])(
    'a hook that %s: the caller still gets the live response, the store keeps the status only, a replay fails clearly and nothing is sent twice',
    async (_, hook) => {
      const events: string[] = [];
      const { idem, store } = setup({
        redactResponse: hook as never,
        onEvent: (event) => {
          if (event.type === 'redact-failed') events.push(event.message);
        },
      });
      const send = fakeSend(() => jsonResponse(200, { access_token: OAUTH }, { 'x-token-id': OAUTH }));
      const first = await idem.execute(charge(), send);
      expect(JSON.parse(text(first.response)).access_token).toBe(OAUTH);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatch(/redactResponse/);
      const record = await store.get(first.key!);
      expect(record?.status).toBe('completed');
      expect(record?.response).toMatchObject({ status: 200, headers: {}, omitted: 'redact-failed' });
      expect(JSON.stringify(record)).not.toContain(OAUTH);
      await expect(idem.execute(charge(), send)).rejects.toThrow(/redact-failed/);
      expect(send).toHaveBeenCalledTimes(1);
    },
  );
});

describe('header values that could split a replayed response', () => {
  it.each([
    ['CR LF in a value', { 'x-note': 'a\r\nSet-Cookie: evil=1' }],
    ['a bare LF', { 'x-note': 'a\nb' }],
    ['NUL', { 'x-note': 'a\u0000b' }],
    ['a bad name', { 'x note': 'a' }],
  ])(
    'a reconcile hook that found a response with %s: ConfigError, record stays unknown',
    async (_, headers) => {
      const { idem, store } = setup({
        routes: [
          { match: 'POST /v1/charges', reconcile: (ctx) => ctx.found({ status: 201, headers, body: {} }) },
        ],
      });
      const send = fakeSend((_, n) => {
        if (n === 1) throw errorWithCode('ECONNRESET');
        return jsonResponse(200, {});
      });
      const lost = await idem.execute(charge(), send).catch((error: unknown) => error);
      expect(lost).toMatchObject({ code: 'ECONNRESET' });
      const key = idem.keyFor(charge())!.key;
      await expect(idem.execute(charge(), send)).rejects.toBeInstanceOf(ConfigError);
      expect(send).toHaveBeenCalledTimes(1);
      expect((await store.get(key))?.status).toBe('unknown');
    },
  );
});

describe('scope options', () => {
  const withHeaders = (headers: Record<string, string>) =>
    charge({ amount: 1 }, { headers: { 'content-type': 'application/json', ...headers } });

  it('credentialHeaders adds a header whose name no pattern takes', () => {
    const plain = setup().idem;
    expect(plain.keyFor(withHeaders({ 'x-tenant-slot': 'a' }))!.key).toBe(
      plain.keyFor(withHeaders({ 'x-tenant-slot': 'b' }))!.key,
    );
    const scoped = setup({ credentialHeaders: ['X-Tenant-Slot'] }).idem;
    expect(scoped.keyFor(withHeaders({ 'x-tenant-slot': 'a' }))!.key).not.toBe(
      scoped.keyFor(withHeaders({ 'x-tenant-slot': 'b' }))!.key,
    );
  });

  it('volatileHeaders leaves a per-attempt signature out while the api key still splits tenants', () => {
    const { idem } = setup({ volatileHeaders: ['x-body-hmac'] });
    const req = (apiKey: string, hmac: string) => withHeaders({ 'x-api-key': apiKey, 'x-body-hmac': hmac });
    expect(idem.keyFor(req('k1', 'h1'))!.key).toBe(idem.keyFor(req('k1', 'h2'))!.key);
    expect(idem.keyFor(req('k1', 'h1'))!.key).not.toBe(idem.keyFor(req('k2', 'h1'))!.key);
  });

  it('a header name with a space in credentialHeaders is a ConfigError', () => {
    expect(() => setup({ credentialHeaders: ['x tenant'] })).toThrow(ConfigError);
  });
});

describe('provider keys carried in the body keep the body lossless', () => {
  it('square (bodyField): a 2^53 + 1 amount reaches the wire with every digit', async () => {
    const { idem } = setup({ providers: 'auto' });
    const send = ok();
    const body = '{"amount_money":{"amount":9007199254740993,"currency":"USD"},"source_id":"cnon"}';
    await idem.execute(
      {
        method: 'POST',
        url: 'https://connect.squareup.com/v2/payments',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sq' },
        body,
      },
      send,
    );
    const sent = Buffer.from(send.calls[0]!.body as Uint8Array | string).toString('utf8');
    expect(sent).toContain('9007199254740993');
    expect(sent).toMatch(/"idempotency_key":"[^"]+"/);
  });
});

describe('content types users send', () => {
  it('a UTF-8 BOM before JSON text does not change the key', () => {
    const { idem } = setup();
    const body = '{"amount":1}';
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)]);
    expect(idem.keyFor(charge(bom))!.key).toBe(idem.keyFor(charge(body))!.key);
  });

  it('text/json is canonicalised as JSON (key order and whitespace do not matter)', () => {
    const { idem } = setup();
    const req = (body: string) => charge(body, { headers: { 'content-type': 'text/json' } });
    expect(idem.keyFor(req('{"a":1,"b":2}'))!.key).toBe(idem.keyFor(req('{ "b": 2, "a": 1 }'))!.key);
    expect(idem.keyFor(req('{"a":1}'))!.key).not.toBe(idem.keyFor(req('{"a":2}'))!.key);
  });
});

describe('secret query values inside URL-valued response headers', () => {
  it('a Location holding a presigned X-Amz-Signature is stored without it', async () => {
    const { idem, store } = setup();
    const location = 'https://bucket.s3.amazonaws.com/f?X-Amz-Signature=S_presigned_1&part=2';
    const send = fakeSend(() => jsonResponse(201, { id: 'up_1' }, { location }));
    const result = await idem.execute(charge(), send);
    expect(result.response.headers.location).toBe(location);
    const stored = JSON.stringify(await store.get(result.key!));
    expect(stored).not.toContain('S_presigned_1');
    expect(stored).toContain('part=2');
  });
});
