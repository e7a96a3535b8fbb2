import {
  createIdempotency,
  type IdempotencyOptions,
  KeyDerivationError,
  memoryStore,
  type OutgoingRequest,
  PayloadMismatchError,
} from '@oncely/core';
import { describe, expect, it } from 'vitest';
import { FORM_TYPE, fakeSend, JSON_TYPE, jsonResponse, ok, post, sendTwice, URL_X } from './helpers.js';

/**
 * Inputs seen in real traffic that today's key derivation gets wrong: each `it` asserts the correct
 * behaviour. Every test builds its own instance and memory store, so no record leaks between tests.
 */

function setup(options: Omit<IdempotencyOptions, 'namespace' | 'store'> = {}) {
  const store = memoryStore();
  const idem = createIdempotency({ namespace: 'real-inputs', store, ...options });
  return { store, idem };
}

/** Sends `first` then `second` through one instance; returns the counting send and both results. */
async function twice(first: OutgoingRequest, second: OutgoingRequest, options = {}) {
  const { idem, store } = setup(options);
  return { ...(await sendTwice(idem, first, second)), store, idem };
}

describe('1. JSON numbers keep their digits', () => {
  it.each([
    ['2^53 + 1 vs 2^53', '{"amount":9007199254740993}', '{"amount":9007199254740992}'],
    ['20-digit integers', '{"amount":12345678901234567890}', '{"amount":12345678901234567891}'],
    ['0.30000000000000001 vs 0.3', '{"amount":0.30000000000000001}', '{"amount":0.3}'],
  ])('%s: different keys and fingerprints, 2 sends', async (_, first, second) => {
    const { idem } = setup();
    const ka = idem.keyFor(post(first))!;
    const kb = idem.keyFor(post(second))!;
    expect(ka.key).not.toBe(kb.key);
    expect(ka.fingerprint).not.toBe(kb.fingerprint);
    const { send, b } = await twice(post(first), post(second));
    expect(send).toHaveBeenCalledTimes(2);
    expect(b.replayed).toBe(false);
  });
});

describe('2. route `fields`: same order, different big amount', () => {
  it.each([
    ['2^53 + 1 vs 2^53', '9007199254740993', '9007199254740992'],
    ['20-digit integers', '12345678901234567890', '12345678901234567891'],
    ['0.30000000000000001 vs 0.3', '0.30000000000000001', '0.3'],
  ])('%s: the second call is a PayloadMismatchError, not a replay', async (_, first, second) => {
    const { idem } = setup({ routes: [{ match: 'POST /v1/x', key: { fields: ['order'] } }] });
    const send = ok();
    await idem.execute(post(`{"order":"o-1","amount":${first}}`), send);
    await expect(idem.execute(post(`{"order":"o-1","amount":${second}}`), send)).rejects.toBeInstanceOf(
      PayloadMismatchError,
    );
    expect(send).toHaveBeenCalledTimes(1);
  });
});

describe('3. duplicate JSON member names', () => {
  const duplicate = '{"to":"alice","to":"bob"}';

  it('a derived key is refused (KeyDerivationError), nothing is sent', async () => {
    const { idem } = setup();
    const send = ok();
    expect(() => idem.keyFor(post(duplicate))).toThrow(KeyDerivationError);
    await expect(idem.execute(post(duplicate), send)).rejects.toBeInstanceOf(KeyDerivationError);
    expect(send).not.toHaveBeenCalled();
    // The unambiguous body still goes through.
    await idem.execute(post('{"to":"bob"}'), send);
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('with an explicit key the duplicate-member body is accepted and sent once', async () => {
    const { idem } = setup();
    const send = ok();
    const result = await idem.execute(post(duplicate), send, { key: 'k1' });
    expect(result.replayed).toBe(false);
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('with a route key function the duplicate-member body is accepted and sent once', async () => {
    const { idem } = setup({ routes: [{ match: 'POST /v1/x', key: () => 'order-1' }] });
    const send = ok();
    const result = await idem.execute(post(duplicate), send);
    expect(result.replayed).toBe(false);
    expect(send).toHaveBeenCalledTimes(1);
  });
});

describe('4. bytes that are not valid UTF-8 keep their identity', () => {
  it('form body name=%E9 vs name=%E8: different keys', () => {
    const { idem } = setup();
    expect(idem.keyFor(post('name=%E9', FORM_TYPE))!.key).not.toBe(
      idem.keyFor(post('name=%E8', FORM_TYPE))!.key,
    );
  });

  it('query ?to=%E9 vs ?to=%E8: different keys', () => {
    const { idem } = setup();
    expect(idem.keyFor(post('{}', JSON_TYPE, `${URL_X}?to=%E9`))!.key).not.toBe(
      idem.keyFor(post('{}', JSON_TYPE, `${URL_X}?to=%E8`))!.key,
    );
  });

  it('JSON bytes with a raw 0xFF vs 0xFE inside a string: different keys, 2 sends', async () => {
    const bytes = (byte: number) =>
      Buffer.concat([Buffer.from('{"a":"'), Buffer.from([byte]), Buffer.from('"}')]);
    const { idem } = setup();
    expect(idem.keyFor(post(bytes(0xff)))!.key).not.toBe(idem.keyFor(post(bytes(0xfe)))!.key);
    const { send, b } = await twice(post(bytes(0xff)), post(bytes(0xfe)));
    expect(send).toHaveBeenCalledTimes(2);
    expect(b.replayed).toBe(false);
  });
});

describe('5. same meaning, one key (regression guards)', () => {
  const { idem } = setup();
  const key = (request: OutgoingRequest) => idem.keyFor(request)!.key;

  it('key order and whitespace', () => {
    expect(key(post('{ "b": 2,\n  "a": [1, 2] }'))).toBe(key(post('{"a":[1,2],"b":2}')));
  });

  it('object vs JSON text', () => {
    expect(key(post({ b: 2, a: [1, 2] }))).toBe(key(post('{"a":[1,2],"b":2}')));
  });

  it('Buffer vs string', () => {
    expect(key(post(Buffer.from('{"a":[1,2],"b":2}')))).toBe(key(post('{"a":[1,2],"b":2}')));
  });

  it('a=b+c vs a=b%20c in a form body', () => {
    expect(key(post('a=b+c', FORM_TYPE))).toBe(key(post('a=b%20c', FORM_TYPE)));
  });

  it('a=b+c vs a=b%20c in the query', () => {
    expect(key(post('{}', JSON_TYPE, `${URL_X}?a=b+c`))).toBe(key(post('{}', JSON_TYPE, `${URL_X}?a=b%20c`)));
  });
});

describe('6. tenancy headers split the key', () => {
  const STRIPE = 'https://api.stripe.com/v1/charges';
  const stripeRoute = { routes: [{ match: 'POST https://api.stripe.com/v1/*', provider: 'stripe' }] };
  const tenant = (header: string, value: string) =>
    post(
      '{"amount":100}',
      { ...JSON_TYPE, authorization: 'Bearer sk_test_platform', [header]: value },
      STRIPE,
    );

  it.each(['Stripe-Account', 'Stripe-Context'])('%s acct_A vs acct_B: 2 sends, no replay', async (header) => {
    const { send, b } = await twice(tenant(header, 'acct_A'), tenant(header, 'acct_B'), stripeRoute);
    expect(send).toHaveBeenCalledTimes(2);
    expect(b.replayed).toBe(false);
  });
});

describe('7. custom token headers are credentials', () => {
  it.each(['X-Shopify-Access-Token', 'PRIVATE-TOKEN', 'X-Auth-Token', 'X-Api-Token'])(
    '%s a vs b: 2 sends',
    async (header) => {
      const { send, b } = await twice(
        post('{"amount":1}', { ...JSON_TYPE, [header]: 'a' }),
        post('{"amount":1}', { ...JSON_TYPE, [header]: 'b' }),
      );
      expect(send).toHaveBeenCalledTimes(2);
      expect(b.replayed).toBe(false);
    },
  );
});

describe('8. URL userinfo', () => {
  const A = 'http://tenantA:pw@api.example.com/v1/x';
  const B = 'http://tenantB:pw@api.example.com/v1/x';

  it('tenantA vs tenantB: 2 sends', async () => {
    const { send, b } = await twice(post('{"amount":1}', JSON_TYPE, A), post('{"amount":1}', JSON_TYPE, B));
    expect(send).toHaveBeenCalledTimes(2);
    expect(b.replayed).toBe(false);
  });

  it('the stored target holds neither the user nor the password', async () => {
    const { idem, store } = setup();
    const result = await idem.execute(post('{"amount":1}', JSON_TYPE, A), ok());
    const record = await store.get(result.key!);
    expect(record).toBeDefined();
    expect(record!.target).not.toContain('tenantA');
    expect(record!.target).not.toContain('pw');
  });
});

describe('9. per-attempt headers never split the key (regression guard)', () => {
  it('traceparent, x-request-id, date, user-agent', () => {
    const { idem } = setup();
    const attempt = (n: number) =>
      idem.keyFor(
        post('{"amount":1}', {
          ...JSON_TYPE,
          authorization: 'Bearer sk_test_x',
          traceparent: `00-${String(n).padStart(32, '0')}-${String(n).padStart(16, '0')}-01`,
          'x-request-id': `req-${n}`,
          date: `Wed, 02 Dec 2026 10:00:0${n} GMT`,
          'user-agent': `client/${n}`,
        }),
      )!.key;
    expect(attempt(2)).toBe(attempt(1));
  });
});

describe('10. signed requests: the signer identifies the tenant, the signature does not', () => {
  const sigv4 = (accessKey: string, signature: string, amzDate: string) =>
    post('{"amount":1}', {
      ...JSON_TYPE,
      authorization:
        `AWS4-HMAC-SHA256 Credential=${accessKey}/20261202/us-east-1/execute-api/aws4_request, ` +
        `SignedHeaders=host;x-amz-date, Signature=${signature}`,
      'x-amz-date': amzDate,
    });
  const hmac = (apiKey: string, signature: string, timestamp: string) =>
    post('{"amount":1}', {
      ...JSON_TYPE,
      'x-api-key': apiKey,
      'x-signature': signature,
      'x-timestamp': timestamp,
    });

  it('AWS SigV4: a new signature and X-Amz-Date per attempt keep one key', () => {
    const { idem } = setup();
    const first = idem.keyFor(sigv4('AKIDEXAMPLE', 'a'.repeat(64), '20261202T100000Z'))!.key;
    const retry = idem.keyFor(sigv4('AKIDEXAMPLE', 'b'.repeat(64), '20261202T100007Z'))!.key;
    expect(retry).toBe(first);
  });

  it('AWS SigV4: another access key id gives another key', () => {
    const { idem } = setup();
    const first = idem.keyFor(sigv4('AKIDEXAMPLE', 'a'.repeat(64), '20261202T100000Z'))!.key;
    const other = idem.keyFor(sigv4('AKIDOTHER', 'a'.repeat(64), '20261202T100000Z'))!.key;
    expect(other).not.toBe(first);
  });

  it('HMAC API: a new X-Signature and X-Timestamp per attempt keep one key', () => {
    const { idem } = setup();
    expect(idem.keyFor(hmac('k1', 'sig-2', '1764669607'))!.key).toBe(
      idem.keyFor(hmac('k1', 'sig-1', '1764669600'))!.key,
    );
  });

  it('HMAC API: another X-Api-Key gives another key', () => {
    const { idem } = setup();
    expect(idem.keyFor(hmac('k2', 'sig-1', '1764669600'))!.key).not.toBe(
      idem.keyFor(hmac('k1', 'sig-1', '1764669600'))!.key,
    );
  });
});

describe('11. secrets never stored raw (memory store)', () => {
  const QUERY_SECRETS = ['S1_private', 'S2_api', 'S3_refresh', 'S4_amzsig', 'S5_hapikey'];
  const url =
    `${URL_X}?private_token=${QUERY_SECRETS[0]}&api_token=${QUERY_SECRETS[1]}` +
    `&refresh_token=${QUERY_SECRETS[2]}&X-Amz-Signature=${QUERY_SECRETS[3]}&hapikey=${QUERY_SECRETS[4]}` +
    '&ok=visible';

  it('query credentials are not in the stored target; ordinary parameters are', async () => {
    const { idem, store } = setup();
    const result = await idem.execute(post('{"amount":1}', JSON_TYPE, url), ok());
    const record = await store.get(result.key!);
    expect(record).toBeDefined();
    expect(record!.target).toContain('ok=visible');
    for (const secret of QUERY_SECRETS) expect(record!.target).not.toContain(secret);
    const raw = JSON.stringify(record);
    for (const secret of QUERY_SECRETS) expect(raw).not.toContain(secret);
  });

  it.each([
    ['x-access-token', 'S6_access'],
    ['x-session-token', 'S7_session'],
  ])('response header %s is not stored; content-type still is', async (header, secret) => {
    const { idem, store } = setup();
    const send = fakeSend(() => jsonResponse(201, { id: 'ch_1' }, { [header]: secret }));
    const result = await idem.execute(post('{"amount":1}'), send);
    const record = await store.get(result.key!);
    expect(record?.response).toBeDefined();
    const names = Object.keys(record!.response!.headers).map((name) => name.toLowerCase());
    expect(names).not.toContain(header);
    expect(names).toContain('content-type');
    expect(JSON.stringify(record)).not.toContain(secret);
  });
});

// 12. CR/LF in reconcile output: covered later through the exported store-independent path.
