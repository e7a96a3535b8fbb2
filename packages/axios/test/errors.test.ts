import { Readable } from 'node:stream';
import { ConfigError, memoryStore, PayloadMismatchError } from '@oncely/core';
import axios, { AxiosError } from 'axios';
import { describe, expect, it } from 'vitest';
import { oncelyErrorOf, withIdempotency } from '../src/index.js';
import { rejection, useFakeServer } from './harness.js';

describe('oncely errors reach the caller as AxiosError', () => {
  const { server, client } = useFakeServer();

  it('payload mismatch: AxiosError with code, oncelyCode and cause; nothing sent', async () => {
    const { instance } = client();
    await instance.post('/plain/orders', { amount: 1 }, { oncely: { key: 'order-1' } });
    const error = await rejection(
      instance.post('/plain/orders', { amount: 2 }, { oncely: { key: 'order-1' } }),
    );
    expect(error).toBeInstanceOf(AxiosError);
    const axiosError = error as AxiosError;
    expect(axios.isAxiosError(error)).toBe(true);
    expect(axiosError.code).toBe('ONCELY_PAYLOAD_MISMATCH');
    expect(axiosError.oncelyCode).toBe('ONCELY_PAYLOAD_MISMATCH');
    expect(axiosError.cause).toBeInstanceOf(PayloadMismatchError);
    expect(oncelyErrorOf(error)).toBe(axiosError.cause);
    expect(axiosError.message).toMatch(/Nothing was sent/);
    expect(axiosError.response).toBeUndefined();
    expect(axiosError.config?.url).toBe('/plain/orders');
    // The cause stays out of JSON and own-property walks, as with AxiosError.from.
    expect(Object.keys(axiosError)).not.toContain('cause');
    expect(server().requests()).toHaveLength(1);
  });

  it('a stream body without an explicit key: ONCELY_KEY_DERIVATION, nothing sent', async () => {
    const { instance } = client();
    const body = Readable.from([Buffer.from('{"amount":1}')]);
    const error = await rejection(
      instance.post('/plain/orders', body, { headers: { 'content-type': 'application/json' } }),
    );
    expect((error as AxiosError).oncelyCode).toBe('ONCELY_KEY_DERIVATION');
    expect(server().requests()).toHaveLength(0);
  });

  it('a stream body with an explicit key is sent, and the key guards it', async () => {
    const { instance } = client();
    const post = () =>
      instance.post('/plain/orders', Readable.from([Buffer.from('{"amount":1}')]), {
        headers: { 'content-type': 'application/json' },
        oncely: { key: 'upload-1' },
      });
    const first = await post();
    const second = await post();
    expect(first.data).toMatchObject({ amount: 1 });
    expect(second.oncely?.replayed).toBe(true);
    expect(server().writes()).toBe(1);
  });

  it('FormData without an explicit key: ONCELY_KEY_DERIVATION, nothing sent; with a key it is guarded', async () => {
    const { instance } = client();
    const form = () => {
      const data = new FormData();
      data.append('file', new Blob(['hello']), 'hello.txt');
      return data;
    };
    const refused = await rejection(instance.post('/plain/uploads', form()));
    expect((refused as AxiosError).oncelyCode).toBe('ONCELY_KEY_DERIVATION');
    expect(server().requests()).toHaveLength(0);
    await instance.post('/plain/uploads', form(), { oncely: { key: 'upload-2' } });
    const again = await instance.post('/plain/uploads', form(), { oncely: { key: 'upload-2' } });
    expect(again.oncely?.replayed).toBe(true);
    expect(server().requests()[0]?.headers['content-type']).toMatch(/^multipart\/form-data/);
    expect(server().writes()).toBe(1);
  });

  it('an override without a reviewer is a ConfigError, nothing sent', async () => {
    const { instance } = client();
    const override = { reason: 'fix', reviewer: '' };
    const error = await rejection(instance.post('/plain/orders', { amount: 1 }, { oncely: { override } }));
    expect((error as AxiosError).oncelyCode).toBe('ONCELY_CONFIG');
    expect(server().requests()).toHaveLength(0);
  });

  it('a request axios refuses before sending releases the key: the corrected call goes through', async () => {
    const { instance } = client();
    const body = Buffer.from(JSON.stringify({ amount: 1, padding: 'x'.repeat(100) }));
    const headers = { 'content-type': 'application/json' };
    const refused = await rejection(instance.post('/plain/orders', body, { headers, maxBodyLength: 10 }));
    expect((refused as AxiosError).code).toBe(AxiosError.ERR_BAD_REQUEST);
    expect(server().requests()).toHaveLength(0);
    const sent = await instance.post('/plain/orders', body, { headers });
    expect(sent.status).toBe(201);
    expect(sent.oncely?.replayed).toBe(false);
    expect(server().writes()).toBe(1);
  });

  it('store down (fail closed): ONCELY_STORE_UNAVAILABLE as an AxiosError, nothing sent', async () => {
    const store = memoryStore();
    store.reserve = () => Promise.reject(new Error('connection refused'));
    const { instance } = client({}, { store });
    const error = await rejection(instance.post('/plain/orders', { amount: 1 }));
    expect((error as AxiosError).oncelyCode).toBe('ONCELY_STORE_UNAVAILABLE');
    expect(server().requests()).toHaveLength(0);
  });

  it('installing twice on one instance is refused', () => {
    const { instance, idem } = client();
    expect(() => withIdempotency(instance, idem)).toThrow(ConfigError);
  });
});
