import { ConfigError, createIdempotency, memoryStore } from '@oncely/core';
import axios, { AxiosError } from 'axios';
import { describe, expect, it } from 'vitest';
import { oncelyAdapter, REFUSAL_HEADER, withIdempotency } from '../src/index.js';
import { rejection, useFakeServer } from './harness.js';

describe("refusals: 'slack' and oncelyAdapter", () => {
  const { server, client } = useFakeServer();
  const idem = () => createIdempotency({ store: memoryStore() });

  it("default ('throw'): an unknown outcome rejects with an AxiosError, as before", async () => {
    const { instance } = client();
    server().inject('/plain/', { dropAfterCommit: 1 });
    await rejection(instance.post('/plain/orders', { amount: 1 }));
    const error = await rejection(instance.post('/plain/orders', { amount: 1 }));
    expect(error).toBeInstanceOf(AxiosError);
    expect((error as AxiosError).code).toBe('ONCELY_UNKNOWN_OUTCOME');
    expect(server().writes()).toBe(1);
  });

  it("'slack': the refusal resolves as 200 { ok: false }, marked, with a request, nothing sent", async () => {
    const instance = withIdempotency(axios.create({ baseURL: server().url }), idem(), { refusals: 'slack' });
    server().inject('/plain/', { dropAfterCommit: 1 });
    await rejection(instance.post('/plain/orders', { amount: 1 }));
    const response = await instance.post('/plain/orders', { amount: 1 });
    expect(response.status).toBe(200);
    expect(response.data).toMatchObject({ ok: false, error: 'oncely_unknown_outcome' });
    expect(response.headers[REFUSAL_HEADER]).toBe('ONCELY_UNKNOWN_OUTCOME');
    expect(response.oncely).toMatchObject({ replayed: false, refused: 'ONCELY_UNKNOWN_OUTCOME' });
    expect((response.request as { path: string }).path).toBe('/plain/orders');
    expect(server().requests()).toHaveLength(1);
  });

  it("'slack' leaves transport errors thrown", async () => {
    const instance = withIdempotency(axios.create({ baseURL: server().url }), idem(), { refusals: 'slack' });
    server().inject('/plain/', { dropAfterCommit: 1 });
    const error = await rejection(instance.post('/plain/orders', { amount: 2 }));
    expect(error).toBeInstanceOf(AxiosError);
    expect((error as AxiosError).code).not.toMatch(/^ONCELY_/);
  });

  it('oncelyAdapter as the adapter option: one write, the repeat is a replay', async () => {
    const instance = axios.create({ baseURL: server().url, adapter: oncelyAdapter(idem()) });
    const live = await instance.post('/plain/orders', { amount: 3 }, { params: { v: 1 } });
    const replay = await instance.post('/plain/orders', { amount: 3 }, { params: { v: 1 } });
    expect(replay.oncely).toEqual({ replayed: true, key: live.oncely?.key });
    expect(replay.data).toEqual(live.data);
    expect(server().writes()).toBe(1);
  });

  it('oncelyAdapter refuses to wrap oncely twice', () => {
    expect(() => oncelyAdapter(idem(), { adapter: oncelyAdapter(idem()) })).toThrow(ConfigError);
  });
});
