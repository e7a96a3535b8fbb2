import { Readable } from 'node:stream';
import { ConfigError, createIdempotency, KeyDerivationError, memoryStore } from '@oncely/core';
import { describe, expect, it } from 'vitest';
import { charge, ok } from './helpers.js';

describe('bad input → typed error, nothing sent', () => {
  const idem = createIdempotency({ maxBodyBytes: 1024 });

  it.each([
    ['a Node stream', () => Readable.from(['{"a":1}'])],
    [
      'an async iterable',
      () =>
        (async function* () {
          yield new Uint8Array([1]);
        })(),
    ],
    ['a web ReadableStream', () => new ReadableStream()],
    ['FormData', () => new FormData()],
  ])('%s body without a key → KeyDerivationError', async (_, body) => {
    const send = ok();
    await expect(idem.execute(charge(undefined, { body: body() }), send)).rejects.toBeInstanceOf(
      KeyDerivationError,
    );
    expect(send).not.toHaveBeenCalled();
  });

  it('a stream body with an explicit key is guarded by that key', async () => {
    const send = ok();
    const result = await idem.execute(charge(undefined, { body: Readable.from(['x']) }), send, {
      key: 'upload-1',
    });
    expect(result.guarded).toBe(true);
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('a cyclic object → KeyDerivationError', async () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const send = ok();
    await expect(idem.execute(charge(undefined, { body: cyclic }), send)).rejects.toBeInstanceOf(
      KeyDerivationError,
    );
    expect(send).not.toHaveBeenCalled();
  });

  it('an oversized body → KeyDerivationError naming the cap', async () => {
    const send = ok();
    const big = JSON.stringify({ blob: 'x'.repeat(2048) });
    await expect(idem.execute(charge(big), send)).rejects.toThrow(/1024-byte/);
    expect(send).not.toHaveBeenCalled();
  });

  it('a relative URL on a guarded method → KeyDerivationError', async () => {
    const send = ok();
    await expect(idem.execute(charge({}, { url: '/v1/charges' }), send)).rejects.toBeInstanceOf(
      KeyDerivationError,
    );
    expect(send).not.toHaveBeenCalled();
  });

  it.each([
    ['an empty override reason', { reason: ' ', reviewer: 'alice' }],
    ['an empty override reviewer', { reason: 'fix', reviewer: '' }],
  ])('%s → ConfigError', async (_, override) => {
    const send = ok();
    await expect(idem.execute(charge(), send, { override })).rejects.toBeInstanceOf(ConfigError);
    expect(send).not.toHaveBeenCalled();
  });

  it('an empty explicit key → ConfigError', async () => {
    const send = ok();
    await expect(idem.execute(charge(), send, { key: '' })).rejects.toBeInstanceOf(ConfigError);
    expect(send).not.toHaveBeenCalled();
  });

  it.each([
    ['ttl < lease', { ttl: '10s', lease: '60s' }],
    ['a route ttl < lease', { routes: [{ match: 'POST /x', ttl: 5 }] }],
    ['a malformed duration', { ttl: 'soon' }],
    ['an unknown provider', { routes: [{ match: 'POST /x', provider: 'nope' }] }],
    ['a route pattern without a leading slash', { routes: [{ match: 'POST v1/charges' }] }],
    ['a route pattern with a bad method', { routes: [{ match: 'P0ST /v1' }] }],
    ['a global RegExp', { routes: [{ match: /x/g }] }],
    ['an empty key rule', { routes: [{ match: '/x', key: { fields: [] } }] }],
    ['a bad namespace', { namespace: 'has space' }],
  ])('%s → ConfigError at construction', (_, options) => {
    expect(() => createIdempotency(options as never)).toThrow(ConfigError);
  });
});

describe('secrets never reach the store', () => {
  it('no Authorization or Cookie value in any record, key or stored response', async () => {
    const store = memoryStore();
    const idem = createIdempotency({ store });
    const secret = 'Bearer sk_live_DO_NOT_STORE';
    const cookie = 'sid=COOKIE_DO_NOT_STORE';
    const send = ok();
    const leaky = async () => ({
      status: 201,
      headers: {
        'content-type': 'application/json',
        'set-cookie': 'sid=SETCOOKIE_DO_NOT_STORE',
        authorization: secret,
      },
      body: Buffer.from('{"id":"x"}'),
    });
    await idem.execute(
      charge(
        { amount: 1 },
        { headers: { authorization: secret, cookie, 'content-type': 'application/json' } },
      ),
      leaky,
    );
    await idem.execute(
      charge({ amount: 2 }, { headers: { authorization: secret, 'content-type': 'application/json' } }),
      send,
      {
        key: 'k',
      },
    );
    const dump: unknown[] = [];
    for await (const record of store.list()) dump.push(record);
    const serialised = JSON.stringify(dump);
    expect(dump).toHaveLength(2);
    for (const needle of ['DO_NOT_STORE', 'sk_live', 'COOKIE']) expect(serialised).not.toContain(needle);
  });
});

describe('bodies that only look serialisable', () => {
  const idem = createIdempotency();
  it.each([
    [
      'a generator',
      () =>
        (function* () {
          yield 'a';
        })(),
    ],
    ['a Set', () => new Set([1])],
    ['a Map', () => new Map([[1, 2]])],
  ])('%s → KeyDerivationError (it would serialise as {})', async (_, body) => {
    const send = ok();
    await expect(idem.execute(charge(undefined, { body: body() }), send)).rejects.toBeInstanceOf(
      KeyDerivationError,
    );
    expect(send).not.toHaveBeenCalled();
  });

  it('a multipart body has one identity whatever its random boundary', () => {
    const form = (boundary: string) =>
      idem.keyFor({
        method: 'POST',
        url: 'https://api.example.com/upload',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        body: Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--${boundary}--\r\n`,
        ),
      })!.key;
    expect(form('xyz123')).toBe(form('abc987'));
    expect(idem.maxBodyBytes).toBe(4 * 1024 * 1024);
  });
});

describe('user-declared presets', () => {
  it('a broken preset in `providers` → ConfigError at construction', () => {
    expect(() =>
      createIdempotency({ providers: [{ name: 'x', carry: { header: 'bad header' } }] as never }),
    ).toThrow(ConfigError);
    expect(() => createIdempotency({ providers: 'all' as never })).toThrow(ConfigError);
  });
});

describe('durations of another type', () => {
  it.each([
    ['ttl', { ttl: {} }],
    ['lease', { lease: true }],
    ['wait.timeout', { wait: { timeout: [] } }],
    ['reconcileGrace', { reconcileGrace: Symbol('2s') }],
  ])('%s → ConfigError naming the option (was a TypeError from inside the parser)', (name, options) => {
    expect(() => createIdempotency(options as never)).toThrow(ConfigError);
    expect(() => createIdempotency(options as never)).toThrow(name);
  });
});
