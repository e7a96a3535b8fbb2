import { randomBytes } from 'node:crypto';
import {
  createIdempotency,
  type IdempotencyOptions,
  type IdempotencyStore,
  KeyDerivationError,
  memoryStore,
  type OutgoingRequest,
  PayloadMismatchError,
  ReplayUnavailableError,
} from '@oncely/core';
import { describe, expect, it } from 'vitest';
import { redactHeaderValue } from '../src/secrets.js';
import { FORM_TYPE, fakeSend, JSON_TYPE, jsonResponse, ok, post, sendTwice, URL_X } from './helpers.js';

/**
 * Findings of the tenth adversarial review: each `it` asserts the behaviour the governing rule asks
 * for (a missed deduplication at worst, never a wrong or foreign replay). Every test builds its own
 * instance and memory store.
 */

function setup(
  options: Omit<IdempotencyOptions, 'namespace' | 'store'> = {},
  store: IdempotencyStore = memoryStore(),
) {
  const idem = createIdempotency({ namespace: 'review', store, ...options });
  return { store, idem };
}

/** Sends `first` then `second` through one instance; returns the counting send and both results. */
async function twice(first: OutgoingRequest, second: OutgoingRequest, options = {}) {
  const { idem, store } = setup(options);
  return { ...(await sendTwice(idem, first, second)), store, idem };
}

async function expectTwoSends(first: OutgoingRequest, second: OutgoingRequest, options = {}) {
  const { send, b } = await twice(first, second, options);
  expect(send).toHaveBeenCalledTimes(2);
  expect(b.replayed).toBe(false);
}

async function expectOneSend(first: OutgoingRequest, second: OutgoingRequest, options = {}) {
  const { send, b } = await twice(first, second, options);
  expect(send).toHaveBeenCalledTimes(1);
  expect(b.replayed).toBe(true);
}

const keyOf = (request: OutgoingRequest, options = {}) => setup(options).idem.keyFor(request)!;

describe('1. URL userinfo the WHATWG parser accepts is in the scope', () => {
  it.each([
    ['plain', 'https://alice:pw@api.example.com/v1/x', 'https://bob:pw@api.example.com/v1/x'],
    ['leading space', ' https://alice:pw@api.example.com/v1/x', ' https://bob:pw@api.example.com/v1/x'],
    ['backslashes', 'https:\\\\alice:pw@api.example.com/v1/x', 'https:\\\\bob:pw@api.example.com/v1/x'],
    ['no slashes', 'https:alice:pw@api.example.com/v1/x', 'https:bob:pw@api.example.com/v1/x'],
    ['one slash', 'https:/alice:pw@api.example.com/v1/x', 'https:/bob:pw@api.example.com/v1/x'],
    ['tab in the scheme', 'ht\ttps://alice:pw@api.example.com/v1/x', 'ht\ttps://bob:pw@api.example.com/v1/x'],
    ['password only', 'https://u:pwA@api.example.com/v1/x', 'https://u:pwB@api.example.com/v1/x'],
  ])('%s: alice vs bob, 2 sends', async (_, a, b) => {
    await expectTwoSends(post('{"amount":1}', JSON_TYPE, a), post('{"amount":1}', JSON_TYPE, b));
  });

  it('userinfo vs none: different keys; the stored target holds neither user nor password', async () => {
    await expectTwoSends(
      post('{"amount":1}', JSON_TYPE, ' https://alice:pw@api.example.com/v1/x'),
      post('{"amount":1}', JSON_TYPE, URL_X),
    );
    const { idem, store } = setup();
    const result = await idem.execute(
      post('{"amount":1}', JSON_TYPE, 'https:\\\\alice:s3cr3t@api.example.com/v1/x'),
      ok(),
    );
    const record = await store.get(result.key!);
    expect(record!.target).toBe(URL_X);
    expect(JSON.stringify(record)).not.toContain('alice');
    expect(JSON.stringify(record)).not.toContain('s3cr3t');
  });

  it('an @ in the query is no userinfo: the same request keeps one key', async () => {
    const url = `${URL_X}?email=a@example.com`;
    await expectOneSend(post('{"amount":1}', JSON_TYPE, url), post('{"amount":1}', JSON_TYPE, url));
  });
});

describe('2. a signature header is dropped only beside a signer key id', () => {
  const signed = (signature: string, timestamp: string, extra: Record<string, string>) =>
    post('{"amount":100}', { ...JSON_TYPE, 'x-signature': signature, 'x-timestamp': timestamp, ...extra });

  it.each([
    ['Cookie: locale=en', { cookie: 'locale=en' }],
    ['X-CSRF-Token', { 'x-csrf-token': 'static' }],
    ['Authorization: Bearer (shared)', { authorization: 'Bearer shared-platform-token' }],
  ])('two HMAC tenants sharing only %s: 2 sends', async (_, extra) => {
    await expectTwoSends(signed('hmac-A', '1700000000', extra), signed('hmac-B', '1700000050', extra));
  });

  it.each([
    ['X-Api-Key', { 'x-api-key': 'k1' }],
    ['CB-ACCESS-KEY', { 'cb-access-key': 'k1' }],
    ['X-Key-Id', { 'x-key-id': 'k1' }],
  ])('a retry beside %s (a signer key id) keeps one key', async (_, extra) => {
    await expectOneSend(signed('sig-1', '1700000000', extra), signed('sig-2', '1700000007', extra));
  });

  it('two signer key ids: 2 sends', async () => {
    await expectTwoSends(
      signed('sig-1', '1700000000', { 'x-api-key': 'k1' }),
      signed('sig-1', '1700000000', { 'x-api-key': 'k2' }),
    );
  });

  it('volatileHeaders drops a signature the patterns keep', async () => {
    const extra = { cookie: 'locale=en' };
    await expectOneSend(signed('sig-1', '1', extra), signed('sig-2', '2', extra), {
      volatileHeaders: ['X-Signature'],
    });
  });

  it('credentialHeaders keeps a signature beside a shared api key', async () => {
    const extra = { 'x-api-key': 'pk_public_shared' };
    await expectTwoSends(signed('hmac-A', '1', extra), signed('hmac-B', '2', extra), {
      credentialHeaders: ['X-Signature'],
    });
  });

  it.each(['X-Hmac', 'X-Sig', 'X-Sign', 'CB-ACCESS-SIGN'])(
    '%s alone is an identity: 2 sends',
    async (header) => {
      await expectTwoSends(
        post('{"amount":1}', { ...JSON_TYPE, [header]: 'A' }),
        post('{"amount":1}', { ...JSON_TYPE, [header]: 'B' }),
      );
    },
  );

  it('Coinbase-style signing (CB-ACCESS-KEY/SIGN/TIMESTAMP): a retry keeps one key', async () => {
    const coinbase = (sign: string, ts: string) =>
      post('{"size":"1"}', {
        ...JSON_TYPE,
        'cb-access-key': 'key-1',
        'cb-access-sign': sign,
        'cb-access-timestamp': ts,
      });
    await expectOneSend(coinbase('s1', '1700000000'), coinbase('s2', '1700000009'));
  });
});

describe('3. tenant and impersonation headers are in the scope', () => {
  it.each([
    'Sudo',
    'X-Hasura-User-Id',
    'X-Hasura-Role',
    'orgId',
    'X-AccountId',
    'X-Tenantid',
    'X-On-Behalf-Of',
    'X-User-Id',
    'X-Customer-Id',
    'X-Client-Id',
    'X-Store-Id',
    'X-Site-Id',
    'X-Shopify-Shop-Domain',
    'X-Forwarded-User',
    'Act-As',
    'X-Act-As-User',
    'X-Impersonate',
    'Impersonation-User',
    'X-Principal',
    'X-Ms-Client-Principal-Id',
    'X-Caller',
    'X-Jwt-Assertion',
    'X-Amz-Target',
    'SOAPAction',
    'X-HTTP-Method-Override',
    'Host',
  ])('%s A vs B: 2 sends', async (header) => {
    const request = (value: string) =>
      post('{"amount":1}', { ...JSON_TYPE, authorization: 'Bearer shared', [header]: value });
    await expectTwoSends(request('tenant-A'), request('tenant-B'));
  });

  it('per-attempt headers stay out of the scope', () => {
    const { idem } = setup();
    const attempt = (n: number) =>
      idem.keyFor(
        post('{"amount":1}', {
          'content-type': 'application/json',
          authorization: 'Bearer sk_test_x',
          traceparent: `00-${String(n).padStart(32, '0')}-${String(n).padStart(16, '0')}-01`,
          'x-request-id': `req-${n}`,
          'user-agent': `client/${n}`,
          date: `Wed, 02 Dec 2026 10:00:0${n} GMT`,
          'x-amz-date': `20261202T10000${n}Z`,
          'content-length': String(10 + n),
          'x-datadog-trace-id': String(n),
          'x-datadog-parent-id': String(n),
          'x-datadog-sampling-priority': String(n),
          'x-datadog-origin': `o${n}`,
          baggage: `k=${n}`,
          'x-client-request-id': `c${n}`,
          'x-ms-client-request-id': `m${n}`,
        }),
      )!.key;
    expect(attempt(2)).toBe(attempt(1));
  });
});

describe('4. headers as Headers, Map or pairs', () => {
  const as = (kind: string, init: Record<string, string>): OutgoingRequest['headers'] => {
    const pairs = Object.entries(init);
    const value =
      kind === 'Headers'
        ? new Headers(init)
        : kind === 'Map'
          ? new Map(pairs)
          : kind === 'pairs'
            ? pairs
            : init;
    return value as unknown as OutgoingRequest['headers'];
  };

  it.each(['Headers', 'Map', 'pairs'])('%s: tenant A vs B, 2 sends', async (kind) => {
    await expectTwoSends(
      post('{"amount":1}', as(kind, { ...JSON_TYPE, authorization: 'Bearer A' })),
      post('{"amount":1}', as(kind, { ...JSON_TYPE, authorization: 'Bearer B' })),
    );
  });

  it.each(['Headers', 'Map', 'pairs'])('%s gives the key of the plain object', (kind) => {
    const init = { 'Content-Type': 'application/merge-patch+json', Authorization: 'Bearer A' };
    expect(keyOf(post('{"a":1}', as(kind, init)))).toEqual(keyOf(post('{"a":1}', init)));
  });

  it('a header object that is neither plain nor iterable: KeyDerivationError, nothing sent', async () => {
    class Bag {
      constructor(readonly authorization: string) {}
    }
    const { idem } = setup();
    const send = ok();
    const request = post('{"a":1}', new Bag('Bearer A') as unknown as OutgoingRequest['headers']);
    await expect(idem.execute(request, send)).rejects.toBeInstanceOf(KeyDerivationError);
    await expect(idem.execute(request, send)).rejects.toThrow(/Nothing was sent/);
    expect(send).not.toHaveBeenCalled();
  });
});

describe('5. JS-value bodies canonicalise as JSON.stringify writes them', () => {
  it.each([
    ['Number', new Number(5), new Number(6)],
    ['Boolean', new Boolean(true), new Boolean(false)],
    ['String', new String('x'), new String('y')],
  ])('boxed %s: different values, 2 sends', async (_, a, b) => {
    await expectTwoSends(post({ a }), post({ a: b }));
  });

  it('a boxed primitive has the key of its JSON.stringify text', () => {
    const value = { n: new Number(5), b: new Boolean(false), s: new String('x') };
    expect(keyOf(post(value))).toEqual(keyOf(post(JSON.stringify(value))));
  });

  it('DataView [1,2] vs [3,4]: 2 sends', async () => {
    const view = (bytes: number[]) => new DataView(new Uint8Array(bytes).buffer);
    await expectTwoSends(post(view([1, 2]), {}), post(view([3, 4]), {}));
  });

  it('a DataView or Int16Array is its bytes (the key of the same Buffer)', () => {
    const bytes = Buffer.from('{"a":1}');
    const copy = new Uint8Array(bytes).buffer;
    expect(keyOf(post(new DataView(copy)))).toEqual(keyOf(post(bytes)));
    const int16 = new Int16Array([0x4241, 0x4443]);
    const asBytes = Buffer.from(int16.buffer, int16.byteOffset, int16.byteLength);
    expect(keyOf(post(int16, {}))).toEqual(keyOf(post(asBytes, {})));
    expect(keyOf(post(int16, {}))).not.toEqual(keyOf(post({}, {})));
  });

  it('a view over part of a buffer is only its own bytes', () => {
    const buffer = new Uint8Array([1, 2, 3, 4]).buffer;
    expect(keyOf(post(new DataView(buffer, 2, 2), {}))).not.toEqual(
      keyOf(post(new DataView(buffer, 0, 2), {})),
    );
    expect(keyOf(post(new DataView(buffer, 2, 2), {}))).toEqual(keyOf(post(Buffer.from([3, 4]), {})));
  });
});

describe('6. form and query pair order', () => {
  const interleaved = 'items[][price]=p1&items[][qty]=5&items[][price]=p2';
  const grouped = 'items[][price]=p1&items[][price]=p2&items[][qty]=5';

  it('bracket names keep wire order in a form body: 2 sends', async () => {
    await expectTwoSends(post(interleaved, FORM_TYPE), post(grouped, FORM_TYPE));
  });

  it('bracket names keep wire order in the query: 2 sends', async () => {
    await expectTwoSends(
      post('{}', JSON_TYPE, `${URL_X}?${interleaved}`),
      post('{}', JSON_TYPE, `${URL_X}?${grouped}`),
    );
  });

  it('percent-encoded brackets count as brackets', async () => {
    const enc = (text: string) => text.replaceAll('[', '%5B').replaceAll(']', '%5D');
    await expectTwoSends(post(enc(interleaved), FORM_TYPE), post(enc(grouped), FORM_TYPE));
  });

  it('without brackets, pairs of different names are still sorted: 1 send', async () => {
    await expectOneSend(post('b=2&a=1', FORM_TYPE), post('a=1&b=2', FORM_TYPE));
    await expectOneSend(post('{}', JSON_TYPE, `${URL_X}?b=2&a=1`), post('{}', JSON_TYPE, `${URL_X}?a=1&b=2`));
  });

  it('a vs a= (nil vs empty string in Rack): 2 sends, in the body and in the query', async () => {
    await expectTwoSends(post('a&b=1', FORM_TYPE), post('a=&b=1', FORM_TYPE));
    await expectTwoSends(post('{}', JSON_TYPE, `${URL_X}?a`), post('{}', JSON_TYPE, `${URL_X}?a=`));
  });
});

describe('7. the media type is in the fingerprint', () => {
  it('application/merge-patch+json vs application/json, same body: 2 sends', async () => {
    await expectTwoSends(
      post('{"a":null}', { 'content-type': 'application/merge-patch+json' }),
      post('{"a":null}', JSON_TYPE),
    );
  });

  it('text/plain vs image/png, same bytes: 2 sends', async () => {
    await expectTwoSends(
      post('hello', { 'content-type': 'text/plain' }),
      post(Buffer.from('hello'), { 'content-type': 'image/png' }),
    );
  });

  it('charset matters for text that is not JSON: 2 sends', async () => {
    await expectTwoSends(
      post('caf\xe9', { 'content-type': 'text/plain; charset=iso-8859-1' }),
      post('caf\xe9', { 'content-type': 'text/plain; charset=utf-8' }),
    );
  });

  it('one explicit key, two media types: PayloadMismatchError, 1 send', async () => {
    const { idem } = setup();
    const send = ok();
    await idem.execute(post('{"a":null}', { 'content-type': 'application/merge-patch+json' }), send, {
      key: 'k1',
    });
    await expect(idem.execute(post('{"a":null}', JSON_TYPE), send, { key: 'k1' })).rejects.toBeInstanceOf(
      PayloadMismatchError,
    );
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('JSON: case, charset and parameter spelling do not split the key', () => {
    const base = keyOf(post('{"a":1}', JSON_TYPE));
    expect(keyOf(post('{"a":1}', { 'content-type': 'Application/JSON; charset=UTF-8' }))).toEqual(base);
    expect(keyOf(post('{"a":1}', { 'content-type': 'application/json;charset="utf-8"' }))).toEqual(base);
    expect(keyOf({ ...post('{"a":1}', {}), contentType: 'application/json' })).toEqual(base);
  });

  it('parameter order and quoting do not split the key', () => {
    const a = keyOf(post('x', { 'content-type': 'text/plain; charset=utf-8; format=flowed' }));
    const b = keyOf(post('x', { 'content-type': 'text/plain;format="flowed";Charset=UTF-8' }));
    expect(a).toEqual(b);
  });
});

describe('8. multipart: only delimiter lines are the boundary', () => {
  const form = (boundary: string, content: string) =>
    post(
      `--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\n${content}\r\n--${boundary}--\r\n`,
      { 'content-type': `multipart/form-data; boundary=${boundary}` },
    );

  it('the boundary text inside content is content: 2 sends', async () => {
    await expectTwoSends(form('X9', 'see X9'), form('Q7', 'see oncely-boundary'));
    await expectTwoSends(form('1', 'qty 1'), form('2', 'qty 2'));
  });

  it('a delimiter-looking line of another boundary inside a part is content: 2 sends', async () => {
    const part = 'Content-Disposition: form-data; name="a"\r\n\r\n';
    const one = `--X9\r\n${part}x\r\n--F\r\n${part}y\r\n--X9--\r\n`; // one part, holding "--F"
    const two = `--F\r\n${part}x\r\n--F\r\n${part}y\r\n--F--\r\n`; // two parts
    await expectTwoSends(
      post(one, { 'content-type': 'multipart/form-data; boundary=X9' }),
      post(two, { 'content-type': 'multipart/form-data; boundary=F' }),
    );
  });

  it('the same form under two random boundaries keeps one key (quoted or not)', async () => {
    await expectOneSend(form('abc123', 'hello'), form('zz-987', 'hello'));
    const quoted = form('q q', 'hello');
    quoted.headers = { 'content-type': 'multipart/form-data; boundary="q q"' };
    await expectOneSend(form('abc123', 'hello'), quoted);
  });
});

describe('9. secrets at rest', () => {
  async function stored(url: string, response = jsonResponse(201, { id: 'x' })) {
    const { idem, store } = setup();
    const result = await idem.execute(
      post('{"a":1}', JSON_TYPE, url),
      fakeSend(() => response),
    );
    return (await store.get(result.key!))!;
  }

  it.each([
    ['Telegram', 'https://api.telegram.org/bot123456:AAHsecretTOKENvalue/sendMessage', 'AAHsecretTOKENvalue'],
    [
      'Slack',
      'https://hooks.slack.com/services/T0000/B0000/XXXXsecretXXXXXXXXXXXX',
      'XXXXsecretXXXXXXXXXXXX',
    ],
    [
      'Slack, trailing slash',
      'https://hooks.slack.com/services/T0000/B0000/XXXXsecretXXXXXXXXXXXX/',
      'XXXXsecretXXXXXXXXXXXX',
    ],
    ['Discord', 'https://discord.com/api/webhooks/123456789/tok-EN_secret.value', 'tok-EN_secret.value'],
    ['jsessionid', 'https://app.example.com/cart;jsessionid=SESSIONSECRET42?x=1', 'SESSIONSECRET42'],
  ])(
    '%s path secret: not in the stored record; same URL, same key; another secret, another key',
    async (_, url, secret) => {
      const record = await stored(url);
      expect(JSON.stringify(record)).not.toContain(secret);
      expect(keyOf(post('{"a":1}', JSON_TYPE, url))).toEqual(keyOf(post('{"a":1}', JSON_TYPE, url)));
      expect(keyOf(post('{"a":1}', JSON_TYPE, url)).key).not.toBe(
        keyOf(post('{"a":1}', JSON_TYPE, url.replace(secret, `${secret}2`))).key,
      );
    },
  );

  it('query names pass, pw, pin, otp, hmac, ticket, appid are redacted', async () => {
    const names = ['pass', 'pw', 'pin', 'otp', 'hmac', 'ticket', 'appid'];
    const url = `${URL_X}?${names.map((n) => `${n}=SECRET_${n}`).join('&')}&ok=visible`;
    const record = await stored(url);
    expect(record.target).toContain('ok=visible');
    for (const name of names) expect(JSON.stringify(record)).not.toContain(`SECRET_${name}`);
  });

  it.each(['Authentication-Info', 'x-auth-key', 'x-api_key', 'x-jwt-assertion', 'x-goog-upload-url'])(
    'response header %s is not stored',
    async (header) => {
      const record = await stored(URL_X, jsonResponse(201, { id: 'x' }, { [header]: 'SECRET_VALUE' }));
      const names = Object.keys(record.response!.headers).map((name) => name.toLowerCase());
      expect(names).not.toContain(header.toLowerCase());
      expect(names).toContain('content-type');
      expect(JSON.stringify(record)).not.toContain('SECRET_VALUE');
    },
  );

  it('redactHeaderValue hashes secret query values in Location, Content-Location and Link', () => {
    const location =
      'https://bucket.s3.amazonaws.com/o?X-Amz-Signature=abcd1234&X-Amz-Security-Token=SESSIONTOKEN&part=2';
    const out = redactHeaderValue('Location', location) as string;
    expect(out).not.toContain('abcd1234');
    expect(out).not.toContain('SESSIONTOKEN');
    expect(out).toContain('part=2');
    expect(out).toMatch(/X-Amz-Signature=redacted-[0-9a-f]{16}/);
    expect(redactHeaderValue('Location', location)).toBe(out); // deterministic

    const link = '<https://api.example.com/items?page=2&token=NEXTSECRET>; rel="next"';
    const redacted = redactHeaderValue('link', link) as string;
    expect(redacted).not.toContain('NEXTSECRET');
    expect(redacted).toMatch(
      /^<https:\/\/api\.example\.com\/items\?page=2&token=redacted-[0-9a-f]{16}>; rel="next"$/,
    );
    expect(redactHeaderValue('content-location', ['/a?sig=S1', '/b?ok=1'])).toEqual([
      expect.not.stringContaining('S1'),
      '/b?ok=1',
    ]);
    expect(redactHeaderValue('Location', 'https://api.telegram.org/bot1:SECRET/getMe')).not.toContain(
      'SECRET',
    );
    // Other headers pass as they are.
    expect(redactHeaderValue('x-next', 'https://a/?token=T')).toBe('https://a/?token=T');
  });
});

describe('10. sealed responses: status and statusText are authenticated', () => {
  it('a store-side edit of 402 → 200 does not open: ReplayUnavailableError, 1 send', async () => {
    const inner = memoryStore();
    // The store hands back an edited status, as a store-side writer could.
    const store: IdempotencyStore = Object.create(inner);
    store.reserve = async (input) => {
      const result = await inner.reserve(input);
      if (!result.acquired && result.record.response) {
        result.record.response = { ...result.record.response, status: 200, statusText: 'OK' };
      }
      return result;
    };
    const { idem } = setup({ encryption: { keys: { k1: randomBytes(32) }, current: 'k1' } }, store);
    const send = fakeSend(() => ({
      ...jsonResponse(402, { error: 'card_declined' }),
      statusText: 'Payment Required',
    }));
    const first = await idem.execute(post('{"a":1}'), send);
    expect(first.response.status).toBe(402);
    await expect(idem.execute(post('{"a":1}'), send)).rejects.toBeInstanceOf(ReplayUnavailableError);
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('an untouched sealed record still replays with its status', async () => {
    const { idem } = setup({ encryption: { keys: { k1: randomBytes(32) }, current: 'k1' } });
    const send = fakeSend(() => ({
      ...jsonResponse(402, { error: 'card_declined' }),
      statusText: 'Payment Required',
    }));
    await idem.execute(post('{"a":1}'), send);
    const replay = await idem.execute(post('{"a":1}'), send);
    expect(replay.replayed).toBe(true);
    expect(replay.response.status).toBe(402);
    expect(replay.response.statusText).toBe('Payment Required');
    expect(send).toHaveBeenCalledTimes(1);
  });
});

describe('11. deeply nested bodies', () => {
  const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

  it('JSON text nested 5000 levels: KeyDerivationError naming the depth, nothing sent', async () => {
    const { idem } = setup();
    const send = ok();
    await expect(idem.execute(post(deep(5000)), send)).rejects.toBeInstanceOf(KeyDerivationError);
    await expect(idem.execute(post(deep(100_000)), send)).rejects.toThrow(/nests deeper than 512 levels/);
    expect(send).not.toHaveBeenCalled();
  });

  it('512 levels are read; 513 are refused', () => {
    const { idem } = setup();
    expect(() => idem.keyFor(post(deep(512)))).not.toThrow();
    expect(() => idem.keyFor(post(`{"a":${deep(511)}}`))).not.toThrow();
    expect(() => idem.keyFor(post(deep(513)))).toThrow(KeyDerivationError);
  });

  it('with an explicit key the deep body is sent once and identified by its bytes', async () => {
    const { idem } = setup();
    const send = ok();
    await idem.execute(post(deep(5000)), send, { key: 'k1' });
    await idem.execute(post(deep(5000)), send, { key: 'k1' });
    expect(send).toHaveBeenCalledTimes(1);
    await expect(idem.execute(post(deep(5001)), send, { key: 'k1' })).rejects.toBeInstanceOf(
      PayloadMismatchError,
    );
  });

  it('a JS value nested too deeply for the serialiser says so (not "a cycle")', () => {
    let value: object = { a: 1 };
    for (let level = 0; level < 20_000; level++) value = { a: value };
    const { idem } = setup();
    expect(() => idem.keyFor(post(value))).toThrow(KeyDerivationError);
    expect(() => idem.keyFor(post(value))).toThrow(/nests too deeply/);
    expect(() => idem.keyFor(post(value))).not.toThrow(/cycle/);
  });
});
