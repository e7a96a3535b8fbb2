import {
  ConfigError,
  createIdempotency,
  type IdempotencyOptions,
  type OncelyEvent,
  PayloadMismatchError,
  type PreparedRequest,
  type ProviderPreset,
  type ResponseMatcher,
  type WireResponse,
} from '@oncely/core';
import { describe, expect, it } from 'vitest';
import {
  acceptsKey,
  checkPreset,
  definePreset,
  existingResourceUrl,
  parseHeaderValue,
  presetForHost,
  providerKeyFor,
  providerPresets,
  uuidFrom,
} from '../src/providers.js';

// ---------------------------------------------------------------------------------------------
// Expected facts, restated from the provider reference: a wrong row in the table fails here.

type Carry = { header: string; sf?: true } | { bodyField: string };
interface Expected {
  carry: Carry;
  maxLength?: number;
  uuid?: true;
  replayHeader?: string;
}

const EXPECTED: Record<string, Expected> = {
  stripe: { carry: { header: 'idempotency-key' }, maxLength: 255, replayHeader: 'idempotent-replayed' },
  adyen: { carry: { header: 'idempotency-key' }, maxLength: 64 },
  paypal: { carry: { header: 'paypal-request-id' }, maxLength: 108 },
  square: { carry: { bodyField: 'idempotency_key' }, maxLength: 45 },
  mollie: { carry: { header: 'idempotency-key' }, replayHeader: 'idempotent-replayed' },
  checkout: { carry: { header: 'cko-idempotency-key' } },
  chargebee: {
    carry: { header: 'chargebee-idempotency-key' },
    maxLength: 100,
    replayHeader: 'chargebee-idempotency-replayed',
  },
  gocardless: { carry: { header: 'idempotency-key' } },
  increase: { carry: { header: 'idempotency-key' }, maxLength: 200, replayHeader: 'idempotent-replayed' },
  lithic: { carry: { header: 'idempotency-key' }, uuid: true },
  moderntreasury: { carry: { header: 'idempotency-key' } },
  razorpay: { carry: { header: 'x-payout-idempotency' }, maxLength: 36 },
  plaid: { carry: { bodyField: 'idempotency_key' }, maxLength: 50 },
  ietf: { carry: { header: 'idempotency-key', sf: true } },
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const OVERRIDE = { reason: 'amount corrected by support', reviewer: 'alice' };

// ---------------------------------------------------------------------------------------------
// Helpers

/** A URL the preset covers: its first host (wildcards filled in) and first path. */
function urlFor(preset: ProviderPreset): string {
  const host = (preset.hosts?.[0] ?? 'api.example.test').replace(/^\*\./, 'acme.');
  const path = (preset.paths?.[0] ?? '/v1/things').replace(/\*$/, 'x');
  return `https://${host}${path}`;
}

function request(preset: ProviderPreset, body: Record<string, unknown> = { amount: 100, order_id: 'o-1' }) {
  return {
    method: 'POST',
    url: urlFor(preset),
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk_test_1' },
    body: JSON.stringify(body),
  };
}

function answer(status: number, json: unknown = {}, headers: Record<string, string> = {}): WireResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: new TextEncoder().encode(JSON.stringify(json)),
  };
}

/** Sets `value` at a dot path, creating objects on the way. */
function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let current = target;
  for (const part of parts.slice(0, -1)) {
    current[part] ??= {};
    current = current[part] as Record<string, unknown>;
  }
  current[parts.at(-1)!] = value;
}

/** The response a matcher describes, with `message` where the preset reads messages. */
function responseFor(matcher: ResponseMatcher, preset: ProviderPreset, message = 'provider says no') {
  const json: Record<string, unknown> = {};
  if (preset.messagePath) setPath(json, preset.messagePath, message);
  if (matcher.field) setPath(json, matcher.field.path, matcher.field.equals);
  const headers: Record<string, string> = {};
  if (matcher.header) headers[matcher.header.name] = matcher.header.equals ?? 'true';
  return answer(matcher.status, json, headers);
}

/** A fake `send` answering from a script (an `Error` is thrown), capturing what it was asked to send. */
function scripted(...script: Array<WireResponse | Error>) {
  const sent: PreparedRequest[] = [];
  const send = async (prepared: PreparedRequest) => {
    sent.push(prepared);
    const next = script.shift() ?? answer(200, { id: `obj_${sent.length}` });
    if (next instanceof Error) throw next;
    return next;
  };
  return { send, sent };
}

function setup(preset: ProviderPreset, options: IdempotencyOptions = {}) {
  const events: OncelyEvent[] = [];
  const idem = createIdempotency({
    routes: [{ match: `POST ${new URL(urlFor(preset)).origin}/*`, provider: preset.name }],
    wait: { timeout: '5s' },
    onEvent: (event) => events.push(event),
    ...options,
  });
  return { idem, events };
}

/** The provider key as the provider would read it from the prepared request. */
function keySent(preset: ProviderPreset, prepared: PreparedRequest, original?: string): string | undefined {
  const { carry } = preset;
  if ('header' in carry) {
    const raw = prepared.setHeaders[carry.header.toLowerCase()];
    return raw === undefined ? undefined : parseHeaderValue(raw, carry.format);
  }
  const body = JSON.parse(text(prepared.body) ?? original ?? '{}') as Record<string, unknown>;
  return body[carry.bodyField] as string | undefined;
}

function text(body: string | Uint8Array | undefined): string | undefined {
  return body instanceof Uint8Array ? new TextDecoder().decode(body) : body;
}

function connectionReset(): Error {
  return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}

const names = Object.keys(EXPECTED);

// ---------------------------------------------------------------------------------------------

describe('the preset table', () => {
  it('ships every documented provider, each a valid preset named after its row', () => {
    expect(Object.keys(providerPresets).sort()).toEqual([...names].sort());
    for (const [name, preset] of Object.entries(providerPresets)) {
      expect(preset.name).toBe(name);
      expect(() => checkPreset(preset, name)).not.toThrow();
      if (preset.unconfirmed !== undefined) expect(preset.unconfirmed.length).toBeGreaterThan(10);
    }
  });
});

describe.each(names)('preset %s', (name) => {
  const preset = providerPresets[name]!;
  const expected = EXPECTED[name]!;

  it('carries a derived key where the provider reads it, within its limits', async () => {
    const { idem } = setup(preset);
    const { send, sent } = scripted();
    const original = request(preset);
    await idem.execute(original, send);

    const prepared = sent[0]!;
    const key = keySent(preset, prepared);
    expect(key).toBeDefined();
    if ('header' in expected.carry) {
      expect(Object.keys(prepared.setHeaders)).toEqual([expected.carry.header]);
      expect(prepared.body).toBeUndefined();
      const raw = prepared.setHeaders[expected.carry.header]!;
      expect(raw.startsWith('"') && raw.endsWith('"')).toBe(expected.carry.sf === true);
    } else {
      expect(prepared.setHeaders).toEqual({});
      const body = JSON.parse(text(prepared.body)!) as Record<string, unknown>;
      expect(body).toMatchObject({ amount: 100, order_id: 'o-1', [expected.carry.bodyField]: key });
    }
    if (expected.uuid) expect(key).toMatch(UUID);
    else expect(key!.length).toBeLessThanOrEqual(expected.maxLength ?? 64);
    expect(acceptsKey(preset, key!)).toBe(true);
  });

  it('fits a caller key that breaks its limits, deterministically', async () => {
    const tooLong = `commande-é-${'x'.repeat(300)}`;
    const keys: string[] = [];
    for (const _ of [1, 2]) {
      const { idem } = setup(preset);
      const { send, sent } = scripted();
      await idem.execute(request(preset), send, { key: tooLong });
      keys.push(keySent(preset, sent[0]!)!);
    }
    expect(keys[0]).toBe(keys[1]);
    expect(keys[0]).not.toBe(tooLong);
    expect(acceptsKey(preset, keys[0]!)).toBe(true);
  });

  it(`reads the replay marker (${expected.replayHeader ?? 'none'})`, async () => {
    const { idem, events } = setup(preset);
    const marker = expected.replayHeader ?? 'idempotent-replayed';
    const { send } = scripted(answer(200, { id: 'obj_1' }, { [marker]: 'true' }));
    const result = await idem.execute(request(preset), send);

    expect(result.replayed).toBe(false);
    const completed = events.find((e) => e.type === 'completed');
    expect(completed).toMatchObject({ status: 200, providerReplayed: expected.replayHeader !== undefined });
  });

  it('re-sends under the same provider key after a lost response', async () => {
    const { idem, events } = setup(preset);
    const replay = preset.replayed ? { [preset.replayed.name]: preset.replayed.equals ?? 'true' } : {};
    const { send, sent } = scripted(connectionReset(), answer(200, { id: 'obj_1' }, replay));
    await expect(idem.execute(request(preset), send)).rejects.toThrow('socket hang up');
    const result = await idem.execute(request(preset), send);

    expect(result.response.status).toBe(200);
    expect(sent).toHaveLength(2);
    expect(keySent(preset, sent[1]!)).toBe(keySent(preset, sent[0]!));
    expect(events.some((e) => e.type === 'takeover')).toBe(true);
    const record = await idem.store.get(result.key!);
    expect(record).toMatchObject({ status: 'completed', providerKey: keySent(preset, sent[0]!) });
  });

  const inUse = preset.inUse?.[0];
  if (inUse) {
    it(`maps "key in use" (${inUse.status}) to a wait and a re-send with the same key`, async () => {
      const { idem, events } = setup(preset);
      const { send, sent } = scripted(responseFor(inUse, preset), answer(200, { id: 'obj_1' }));
      const result = await idem.execute(request(preset), send);

      expect(result.response.status).toBe(200);
      expect(sent).toHaveLength(2);
      expect(keySent(preset, sent[1]!)).toBe(keySent(preset, sent[0]!));
      expect(events.filter((e) => e.type === 'provider-in-use')).toHaveLength(1);
      const record = await idem.store.get(result.key!);
      expect(record?.status).toBe('completed');
      expect(record?.attempts).toBe(1);
    });
  } else {
    it('has no in-use row: a 409 is answered as is, not re-sent', async () => {
      const { idem, events } = setup(preset);
      const { send, sent } = scripted(answer(409, { error: 'conflict' }));
      const result = await idem.execute(request(preset), send);

      expect(result.response.status).toBe(409);
      expect(sent).toHaveLength(1);
      expect(events.some((e) => e.type === 'provider-in-use')).toBe(false);
    });
  }

  const mismatch = preset.mismatch?.[0];
  if (mismatch) {
    it(`maps "same key, other parameters" (${mismatch.status}) to PayloadMismatchError`, async () => {
      const { idem } = setup(preset);
      const { send, sent } = scripted(
        responseFor(mismatch, preset, 'Keys can only be reused with the same parameters'),
      );
      const error = await idem.execute(request(preset), send).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(PayloadMismatchError);
      expect((error as PayloadMismatchError).providerMessage).toBe(
        preset.messagePath ? 'Keys can only be reused with the same parameters' : undefined,
      );
      expect(sent).toHaveLength(1);
      expect(await idem.store.get((error as PayloadMismatchError).key!)).toBeUndefined();
    });
  } else {
    it('has no mismatch row: a 400 is returned as is and the key released', async () => {
      const { idem } = setup(preset);
      const { send } = scripted(answer(400, { error: 'invalid amount' }));
      const result = await idem.execute(request(preset), send);

      expect(result.response.status).toBe(400);
      expect(await idem.store.get(result.key!)).toBeUndefined();
    });
  }

  it('gives an override a new provider key (revision suffix) and records it', async () => {
    const { idem } = setup(preset, {
      routes: [
        {
          match: `POST ${new URL(urlFor(preset)).origin}/*`,
          provider: preset.name,
          key: { fields: ['order_id'] },
        },
      ],
    });
    const { send, sent } = scripted();
    await idem.execute(request(preset, { amount: 100, order_id: 'o-7' }), send);
    const second = request(preset, { amount: 120, order_id: 'o-7' });
    await expect(idem.execute(second, send)).rejects.toBeInstanceOf(PayloadMismatchError);
    const result = await idem.execute(second, send, { override: OVERRIDE });

    expect(sent).toHaveLength(2);
    const [first, revised] = sent.map((prepared) => keySent(preset, prepared)!);
    expect(revised).not.toBe(first);
    expect(acceptsKey(preset, revised!)).toBe(true);
    if (expected.uuid) expect(revised).toMatch(UUID);
    else expect(revised).toBe(`${first!.slice(0, revised!.length - 3)}-r1`);
    const record = await idem.store.get(result.key!);
    expect(record).toMatchObject({ revision: 1, providerKey: revised, status: 'completed' });
    expect(record?.audit).toContainEqual(expect.objectContaining({ action: 'override', ...OVERRIDE }));
  });

  if (preset.hosts) {
    it('attaches by host with providers: "auto"', async () => {
      const idem = createIdempotency({ providers: 'auto' });
      const { send, sent } = scripted();
      await idem.execute(request(preset), send);
      expect(acceptsKey(preset, keySent(preset, sent[0]!)!)).toBe(true);
    });
  }
});

// ---------------------------------------------------------------------------------------------

describe('provider-specific rules', () => {
  it('stripe: a declined card (402) executed and is recorded', async () => {
    const { idem } = setup(providerPresets.stripe!);
    const { send } = scripted(answer(402, { error: { code: 'card_declined' } }));
    const result = await idem.execute(request(providerPresets.stripe!), send);
    expect((await idem.store.get(result.key!))?.status).toBe('completed');
  });

  it('adyen: error 704 is "in use" on 422 as well as 409', async () => {
    const adyen = providerPresets.adyen!;
    const { idem } = setup(adyen);
    const { send, sent } = scripted(answer(422, { errorCode: '704', message: 'in progress' }), answer(200));
    await idem.execute(request(adyen), send);
    expect(sent).toHaveLength(2);
  });

  it('adyen: the route ttl defaults to the provider retention (31 days), not 24 h', async () => {
    const adyen = providerPresets.adyen!;
    const { idem } = setup(adyen);
    const { send } = scripted();
    const before = Date.now();
    const result = await idem.execute(request(adyen), send);
    const record = await idem.store.get(result.key!);
    expect(record!.expiresAt - before).toBeGreaterThanOrEqual(31 * 86_400_000);
  });

  it('chargebee: a 30-minute retention leaves the longer default ttl in place', async () => {
    const chargebee = providerPresets.chargebee!;
    const { idem } = setup(chargebee);
    const { send } = scripted();
    const before = Date.now();
    const result = await idem.execute(request(chargebee), send);
    const record = await idem.store.get(result.key!);
    expect(record!.expiresAt - before).toBeGreaterThanOrEqual(24 * 3_600_000);
  });

  it('gocardless: a creation conflict names the existing resource to fetch', () => {
    const gocardless = providerPresets.gocardless!;
    const conflict = answer(409, {
      error: {
        type: 'invalid_state',
        code: 409,
        message: 'A resource has already been created with this idempotency key',
        errors: [{ reason: 'idempotent_creation_conflict', links: { conflicting_resource_id: 'PM0001' } }],
      },
    });
    const url = 'https://api.gocardless.com/payments?expand=x';
    expect(existingResourceUrl(gocardless, url, conflict)).toBe('https://api.gocardless.com/payments/PM0001');
    expect(existingResourceUrl(gocardless, url, answer(409, { error: { errors: [] } }))).toBeUndefined();
    expect(existingResourceUrl(providerPresets.stripe, url, conflict)).toBeUndefined();
  });

  it('gocardless: the engine records the existing resource instead of creating another', async () => {
    const gocardless = providerPresets.gocardless!;
    const fetched: string[] = [];
    const { idem } = setup(gocardless, {
      fetch: async (url: string) => {
        fetched.push(url);
        return new Response(JSON.stringify({ payments: { id: 'PM0001' } }), { status: 200 });
      },
    });
    const conflict = answer(409, {
      error: {
        type: 'invalid_state',
        errors: [{ reason: 'idempotent_creation_conflict', links: { conflicting_resource_id: 'PM0001' } }],
      },
    });
    const { send, sent } = scripted(conflict);
    const result = await idem.execute(request(gocardless), send);

    expect(sent).toHaveLength(1);
    expect(fetched).toEqual([`${urlFor(gocardless)}/PM0001`]);
    expect(result).toMatchObject({ replayed: true, response: { status: 200 } });
    expect((await idem.store.get(result.key!))?.status).toBe('completed');
  });

  it('razorpay: keys of 4-36 characters from [A-Za-z0-9_ -], others hashed into that form', async () => {
    const razorpay = providerPresets.razorpay!;
    const cases: Array<[string, boolean]> = [
      ['payout 42_a-b', true],
      ['ab', false],
      ['payout/42', false],
      ['p'.repeat(37), false],
    ];
    for (const [key, keptAsIs] of cases) {
      const { idem } = setup(razorpay);
      const { send, sent } = scripted();
      await idem.execute(request(razorpay), send, { key });
      const sentKey = keySent(razorpay, sent[0]!)!;
      expect(sentKey === key).toBe(keptAsIs);
      expect(sentKey).toMatch(/^[A-Za-z0-9_ -]{4,36}$/);
    }
  });

  it("lithic: a caller's own UUID is sent untouched", async () => {
    const lithic = providerPresets.lithic!;
    const { idem } = setup(lithic);
    const { send, sent } = scripted();
    const own = '3b241101-e2bb-4255-8caf-4136c566a962';
    await idem.execute(request(lithic), send, { key: own });
    expect(keySent(lithic, sent[0]!)).toBe(own);
  });

  it('lithic: a derived key is a version-8 UUID (custom hash), never labelled v5 (SHA-1 only)', () => {
    // RFC 9562: v5 is reserved for SHA-1 name-based UUIDs; a SHA-256-derived one is version 8, variant 10.
    const lithic = providerPresets.lithic!;
    for (const key of [
      uuidFrom('any input'),
      providerKeyFor(lithic, 'ab'.repeat(32), undefined, 0),
      providerKeyFor(lithic, 'ab'.repeat(32), 'not-a-uuid', 2),
    ]) {
      const [, , version, variant] = key.split('-');
      expect(version![0]).toBe('8');
      expect(Number.parseInt(variant![0]!, 16) >> 2).toBe(0b10);
    }
    // Pinned: the first 16 bytes of the SHA-256, only the version and variant bits overwritten
    // (these were 07ec4ac9-1c87-5315-… and 986f4e7d-68f0-559e-… before the fix).
    expect(uuidFrom('any input')).toBe('07ec4ac9-1c87-8315-ba73-a1ec26e0e17c');
    expect(providerKeyFor(lithic, 'ab'.repeat(32), undefined, 0)).toBe(
      '986f4e7d-68f0-859e-a1e8-e564561d370b',
    );
  });

  it('square: a key already in the body field is the key, and the body is sent unchanged', async () => {
    const square = providerPresets.square!;
    const { idem } = setup(square);
    const { send, sent } = scripted();
    await idem.execute(request(square, { amount_money: { amount: 100 }, idempotency_key: 'order-42' }), send);
    expect(sent[0]!.body).toBeUndefined();
    expect(sent[0]!.setHeaders).toEqual({});
  });

  it('square: a body that is not JSON or form cannot carry the key: typed error, nothing sent', async () => {
    const square = providerPresets.square!;
    const { idem } = setup(square);
    const { send, sent } = scripted();
    const plain = { ...request(square), headers: { 'content-type': 'text/plain' }, body: 'amount=1' };
    await expect(idem.execute(plain, send, { key: 'k-1' })).rejects.toMatchObject({
      code: 'ONCELY_KEY_DERIVATION',
    });
    expect(sent).toHaveLength(0);
  });

  it('ietf: the key is an sf-string, a caller-set one is read back and escaped again', async () => {
    const ietf = providerPresets.ietf!;
    const { idem } = setup(ietf);
    const { send, sent } = scripted();
    const req = request(ietf);
    await idem.execute({ ...req, headers: { ...req.headers, 'idempotency-key': '"say \\"hi\\""' } }, send);
    expect(sent[0]!.setHeaders['idempotency-key']).toBe('"say \\"hi\\""');
    expect(keySent(ietf, sent[0]!)).toBe('say "hi"');
  });

  it('header presets never send a key a header cannot carry (non-ASCII, CR/LF)', async () => {
    const stripe = providerPresets.stripe!;
    for (const key of ['commande-é', 'a\r\nx-injected: 1', ' padded ']) {
      const { idem } = setup(stripe);
      const { send, sent } = scripted();
      await idem.execute(request(stripe), send, { key });
      expect(keySent(stripe, sent[0]!)).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});

describe('providers: "auto"', () => {
  const cases: Array<[string, string | undefined]> = [
    ['https://api.stripe.com/v1/charges', 'stripe'],
    ['https://checkout-test.adyen.com/v71/payments', 'adyen'],
    ['https://acme.chargebee.com/api/v2/subscriptions', 'chargebee'],
    ['https://pk_abc.api.sandbox.checkout.com/payments', 'checkout'],
    ['https://connect.squareup.com/v2/payments', 'square'],
    ['https://connect.squareup.com/v2/customers/search', undefined],
    ['https://api.razorpay.com/v1/payouts', 'razorpay'],
    ['https://api.razorpay.com/v1/payments', undefined],
    ['https://sandbox.plaid.com/transfer/authorization/create', 'plaid'],
    ['https://sandbox.plaid.com/accounts/get', undefined],
    ['https://api.example.com/v1/charges', undefined],
    ['https://evilstripe.com/v1/charges', undefined],
  ];
  it.each(cases)('%s → %s', (url, name) => {
    expect(presetForHost(Object.values(providerPresets), url)?.name).toBe(name);
  });

  it('leaves requests to paths the provider does not key untouched', async () => {
    const idem = createIdempotency({ providers: 'auto' });
    const { send, sent } = scripted();
    const body = JSON.stringify({ query: {} });
    const search = 'https://connect.squareup.com/v2/customers/search';
    await idem.execute(
      { method: 'POST', url: search, headers: { 'content-type': 'application/json' }, body },
      send,
    );
    expect(sent[0]).toMatchObject({ setHeaders: {}, body: undefined });
  });
});

describe('user-declared presets', () => {
  const acme = definePreset({
    name: 'acme',
    hosts: ['api.acme.test'],
    carry: { header: 'Acme-Request-Key' },
    keyFormat: { maxLength: 40 },
    replayed: { name: 'acme-replayed', equals: 'yes' },
    inUse: [{ status: 425 }],
    mismatch: [{ status: 409, field: { path: 'code', equals: 'KEY_REUSED' } }],
    messagePath: 'text',
  });

  it('works as a route preset object', async () => {
    const idem = createIdempotency({ routes: [{ match: 'POST https://api.acme.test/*', provider: acme }] });
    const { send, sent } = scripted(answer(409, { code: 'KEY_REUSED', text: 'reused' }));
    const error = await idem.execute(request(acme), send).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadMismatchError);
    expect((error as PayloadMismatchError).providerMessage).toBe('reused');
    expect(sent[0]!.setHeaders['acme-request-key']).toHaveLength(40);
  });

  it('attaches by host through providers: [preset]', async () => {
    const events: OncelyEvent[] = [];
    const idem = createIdempotency({ providers: [acme], onEvent: (e) => events.push(e) });
    const { send, sent } = scripted(answer(200, {}, { 'acme-replayed': 'yes' }));
    await idem.execute(request(acme), send);
    expect(Object.keys(sent[0]!.setHeaders)).toEqual(['acme-request-key']);
    expect(events.find((e) => e.type === 'completed')).toMatchObject({ providerReplayed: true });
  });

  it('can extend a built-in row', () => {
    const stripeEu = definePreset({
      ...providerPresets.stripe!,
      name: 'stripe-eu',
      hosts: ['eu.stripe.test'],
    });
    expect(presetForHost([stripeEu], 'https://eu.stripe.test/v1/charges')?.carry).toEqual({
      header: 'Idempotency-Key',
    });
  });

  const broken: Array<[string, Partial<ProviderPreset>]> = [
    ['no name', { name: '' }],
    ['no carry', { carry: {} as ProviderPreset['carry'] }],
    ['a header name with a space', { carry: { header: 'Bad Header' } }],
    ['a max length too short to stay unique', { keyFormat: { maxLength: 8 } }],
    ['min above max', { keyFormat: { minLength: 50, maxLength: 40 } }],
    ['a pattern refusing derived keys', { keyFormat: { pattern: /^[A-Z]+$/ } }],
    ['a matcher without a status', { inUse: [{} as ResponseMatcher] }],
  ];
  it.each(broken)('refuses %s with a ConfigError, at construction', (_, change) => {
    const preset = { ...acme, ...change } as ProviderPreset;
    expect(() => definePreset(preset)).toThrow(ConfigError);
    expect(() => createIdempotency({ routes: [{ match: 'POST /x', provider: preset }] })).toThrow(
      ConfigError,
    );
  });
});
