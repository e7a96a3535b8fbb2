import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, ReplayUnavailableError } from '../src/errors.js';
import { createSealer } from '../src/seal.js';
import type { StoredResponse } from '../src/types.js';

type Sealed = StoredResponse & { sealed?: string };

const k1 = randomBytes(32);
const k2 = randomBytes(32).toString('base64');
const AAD = 'billing:0f3a';
const response: StoredResponse = {
  status: 201,
  statusText: 'Created',
  headers: { 'content-type': 'application/json', 'x-request-id': 'req-secret-header' },
  body: Buffer.from('{"id":"ch_plaintext_body"}').toString('base64'),
};

/** Flips one bit of the base64url segment at `index` of a sealed string. */
function flip(sealed: string, index: number): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[index]!, 'base64url');
  bytes[0] = bytes[0]! ^ 1;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

describe('createSealer', () => {
  const sealer = createSealer({ keys: { k1 }, current: 'k1' });

  it('round-trips and keeps status readable', () => {
    const sealed: Sealed = sealer.seal(response, AAD);
    expect(sealed.status).toBe(201);
    expect(sealed.statusText).toBe('Created');
    expect(sealed.headers).toEqual({});
    expect(sealed.body).toBeUndefined();
    expect(sealed.sealed).toMatch(/^v1\.k1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealer.open(sealed, AAD)).toEqual(response);
  });

  it('round-trips a response whose body was omitted', () => {
    const big: StoredResponse = { status: 200, headers: { a: ['1', '2'] }, omitted: 'too-large' };
    expect(sealer.open(sealer.seal(big, AAD), AAD)).toEqual(big);
  });

  it('opens records sealed with an older key after rotation', () => {
    const old = sealer.seal(response, AAD);
    const rotated = createSealer({ keys: { k1, k2 }, current: 'k2' });
    expect(rotated.open(old, AAD)).toEqual(response);
    expect((rotated.seal(response, AAD) as Sealed).sealed).toMatch(/^v1\.k2\./);

    const dropped = createSealer({ keys: { k2 }, current: 'k2' });
    expect(() => dropped.open(old, AAD)).toThrow(ReplayUnavailableError);
    expect(() => dropped.open(old, AAD)).toThrow(/sealed with key 'k1', which is not in encryption.keys/);
  });

  it('does not open under another store key (aad)', () => {
    const sealed = sealer.seal(response, AAD);
    expect(() => sealer.open(sealed, 'billing:other')).toThrow(ReplayUnavailableError);
    expect(() => sealer.open(sealed, 'billing:other')).toThrow(/does not open/);
  });

  it.each([
    ['iv', 2],
    ['tag', 3],
    ['ciphertext', 4],
  ])('rejects a tampered %s', (_, index) => {
    const sealed = sealer.seal(response, AAD) as Sealed;
    const tampered = { ...sealed, sealed: flip(sealed.sealed!, index) };
    expect(() => sealer.open(tampered, AAD)).toThrow(ReplayUnavailableError);
  });

  it.each(['v2.k1.a.b.c', 'v1.k1.a.b', 'garbage', 'v1.k1.!!.b.c'])('rejects malformed %s', (bad) => {
    expect(() => sealer.open({ ...response, sealed: bad } as Sealed, AAD)).toThrow(ReplayUnavailableError);
  });

  it('uses a fresh IV for every seal', () => {
    const a = (sealer.seal(response, AAD) as Sealed).sealed!;
    const b = (sealer.seal(response, AAD) as Sealed).sealed!;
    expect(a.split('.')[2]).not.toBe(b.split('.')[2]);
    expect(a).not.toBe(b);
  });

  it('leaks no plaintext body or header value', () => {
    const text = JSON.stringify(sealer.seal(response, AAD));
    for (const needle of [response.body!, 'ch_plaintext_body', 'req-secret-header', 'application/json']) {
      expect(text).not.toContain(needle);
    }
  });

  it('passes an unsealed response through open unchanged', () => {
    expect(sealer.open(response, AAD)).toBe(response);
  });

  it('error messages carry no key material', () => {
    const dropped = createSealer({ keys: { k2 }, current: 'k2' });
    const error = (() => {
      try {
        dropped.open(sealer.seal(response, AAD), AAD);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).not.toContain(k2);
    expect(error?.message).not.toContain(k1.toString('base64'));
  });
});

describe('createSealer config errors', () => {
  it.each([
    ['missing current key', { keys: { k1 }, current: 'k9' }, /encryption.current 'k9'/],
    ['31-byte key', { keys: { short: randomBytes(31) }, current: 'short' }, /'short'\] is 31 bytes/],
    [
      '31-byte base64 key',
      { keys: { s: randomBytes(31).toString('base64') }, current: 's' },
      /'s'\] is 31 bytes/,
    ],
    ['bad base64', { keys: { b: 'not*base64!' }, current: 'b' }, /'b'\] is not valid base64/],
    ['bad key id', { keys: { 'bad.id': k1 }, current: 'bad.id' }, /key id "bad.id"/],
    ['too long key id', { keys: { ['x'.repeat(33)]: k1 }, current: 'x'.repeat(33) }, /1-32 chars/],
    ['empty keys', { keys: {}, current: 'k1' }, /at least one key/],
  ])('%s → ConfigError', (_, options, message) => {
    expect(() => createSealer(options)).toThrow(ConfigError);
    expect(() => createSealer(options)).toThrow(message);
  });

  it('does not echo key material in config errors', () => {
    const short = randomBytes(31).toString('base64');
    expect(() => createSealer({ keys: { s: short }, current: 's' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(short) }),
    );
  });
});
