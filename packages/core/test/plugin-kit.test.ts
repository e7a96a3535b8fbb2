import { Readable } from 'node:stream';
import {
  BodyChunkError,
  ConfigError,
  createIdempotency,
  LeaseLostError,
  memoryStore,
  NOT_SENT,
  wasNotSent,
} from '@oncely/core';
import {
  applyHeaderEdits,
  editHeaderPairs,
  findOncelyError,
  headerEdits,
  isReplayed,
  markNotSent,
  readBody,
  readKeyedBody,
  readRequestOptions,
} from '@oncely/core/plugin';
import { describe, expect, it } from 'vitest';

const prepared = (body: string | undefined) => ({
  method: 'POST',
  url: 'https://api.test/x',
  setHeaders: { 'idempotency-key': 'k-1' },
  body,
  key: 'ns:abc',
  attempt: 1,
});

async function text(body: unknown): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString();
}

describe('readRequestOptions', () => {
  it('returns only the fields given, checked', () => {
    expect(readRequestOptions({ key: 'a', skip: false }, 'oncely')).toEqual({ key: 'a', skip: false });
    expect(readRequestOptions(undefined, 'oncely')).toEqual({});
    expect(readRequestOptions(null, 'oncely')).toEqual({});
  });

  it.each([
    [{ skip: 'yes' }, 'context.oncely.skip must be a boolean'],
    [{ skip: 1 }, 'context.oncely.skip must be a boolean'],
    [{ key: 7 }, 'context.oncely.key must be a string'],
    [['key'], 'context.oncely must be an object: { key?, skip?, override? }'],
    ['key', 'context.oncely must be an object: { key?, skip?, override? }'],
  ])('%j: ConfigError naming the option', (value, message) => {
    expect(() => readRequestOptions(value, 'context.oncely')).toThrow(new ConfigError(message));
  });
});

describe('readBody', () => {
  it('buffers an iterable up to the cap', async () => {
    const read = await readBody(['ab', Buffer.from('cd')], 4, 'iterables');
    expect(read.oneShot).toBe(false);
    expect(Buffer.from(read.wire as Uint8Array).toString()).toBe('abcd');
    expect(read.identity).toBe(read.wire);
  });

  it('over the cap, hands the whole body on unread (read chunks, then the rest), once', async () => {
    const read = await readBody(['abc', 'def', 'ghi'], 4, 'iterables');
    expect(read.oneShot).toBe(true);
    expect(await text(read.wire)).toBe('abcdefghi');
    await expect(readBody(read.wire, 4, 'all')).rejects.toThrow(/cannot be sent again/);
  });

  it("leaves a stream unread under 'iterables', reads it under 'all'", async () => {
    const stream = Readable.from([Buffer.from('xy')]);
    const left = await readBody(stream, 10, 'iterables');
    expect([left.oneShot, left.wire]).toEqual([true, stream]);
    const read = await readBody(Readable.from([Buffer.from('xy')]), 10, 'all');
    expect(Buffer.from(read.wire as Uint8Array).toString()).toBe('xy');
  });

  it('a chunk that is neither text nor bytes: BodyChunkError, a ConfigError', async () => {
    const error = await readBody([1], 10, 'all').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BodyChunkError);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe('Request body chunks must be strings or bytes, got number');
  });
});

describe('readKeyedBody', () => {
  const idem = createIdempotency({ store: memoryStore() });
  const request = (body: object) => ({ method: 'POST', url: 'https://api.test/x', headers: {}, body });

  it('reads nothing of a one-shot body without a key', async () => {
    let pulled = 0;
    const body = (function* () {
      pulled++;
      yield 'a';
    })();
    await expect(readKeyedBody(idem, request(body), {}, 10)).rejects.toMatchObject({
      code: 'ONCELY_KEY_DERIVATION',
    });
    expect(pulled).toBe(0);
    const keyed = await readKeyedBody(idem, request(body), { key: 'k' }, 10);
    expect(Buffer.from(keyed.wire as Uint8Array).toString()).toBe('a');
  });
});

describe('header edits', () => {
  it('set headers replace any spelling; content-length goes only with a replaced body', () => {
    const pairs: Array<[string, string]> = [
      ['Content-Length', '2'],
      ['Idempotency-Key', 'caller'],
      ['X-A', '1'],
    ];
    expect(editHeaderPairs(pairs, headerEdits(prepared(undefined)))).toEqual([
      ['Content-Length', '2'],
      ['X-A', '1'],
      ['idempotency-key', 'k-1'],
    ]);
    expect(editHeaderPairs(pairs, headerEdits(prepared('{}')))).toEqual([
      ['X-A', '1'],
      ['idempotency-key', 'k-1'],
    ]);
  });

  it('applies to a headers object with set/delete', () => {
    const headers = new Headers({ 'content-length': '2', 'x-a': '1' });
    applyHeaderEdits(headers, headerEdits(prepared('{}')));
    expect([...headers]).toEqual([
      ['idempotency-key', 'k-1'],
      ['x-a', '1'],
    ]);
  });
});

describe('error and response helpers', () => {
  it('findOncelyError finds the oncely error through client wrappers', () => {
    const oncely = new LeaseLostError('k');
    expect(findOncelyError(oncely)).toBe(oncely);
    expect(findOncelyError(new TypeError('fetch failed', { cause: oncely }))).toBe(oncely);
    expect(findOncelyError(new Error('other', { cause: new Error('deeper') }))).toBeUndefined();
  });

  it('markNotSent tells core the request never left, out of sight of own-property walks', () => {
    const error = markNotSent(new Error('refused locally'));
    expect(wasNotSent(error)).toBe(true);
    expect(Object.getOwnPropertyDescriptor(error, NOT_SENT)?.enumerable).toBe(false);
  });

  it('isReplayed reads records and header getters alike', () => {
    expect(isReplayed({ headers: { 'oncely-replayed': 'true' } })).toBe(true);
    expect(isReplayed({ headers: new Headers({ 'oncely-replayed': 'true' }) })).toBe(true);
    expect(isReplayed({ headers: {} })).toBe(false);
  });
});
