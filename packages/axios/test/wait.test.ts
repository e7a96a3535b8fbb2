import { createIdempotency, type Idempotency, memoryStore, type OncelyEvent } from '@oncely/core';
import axios, { AxiosError, isCancel } from 'axios';
import { describe, expect, it } from 'vitest';
import { withIdempotency } from '../src/index.js';
import { rejection, useFakeServer } from './harness.js';

/**
 * Another process holds the key (here: a second Idempotency on the same store, whose send we hold
 * open). axios' `timeout` and `signal` must bound the wait, ending it the way axios ends a request.
 */
describe('waiting for a twin held elsewhere', () => {
  const { server } = useFakeServer();
  const body = { amount: 1 };

  async function holdKey(store: ReturnType<typeof memoryStore>) {
    const holder = createIdempotency({ store });
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reserved: () => void = () => {};
    const isReserved = new Promise<void>((resolve) => {
      reserved = resolve;
    });
    const request = {
      method: 'POST',
      url: `${server().url}/plain/orders`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    };
    const done = holder.execute(request, async () => {
      reserved();
      await held;
      return {
        status: 201,
        headers: { 'content-type': 'application/json' },
        body: Buffer.from('{"id":"held"}'),
      };
    });
    await isReserved;
    return { release, done };
  }

  function waiter(store: ReturnType<typeof memoryStore>, onEvent?: (event: OncelyEvent) => void) {
    const idem: Idempotency = createIdempotency({ store, onEvent });
    return withIdempotency(axios.create({ baseURL: server().url }), idem);
  }

  it('timeout: the wait ends with the AxiosError of an axios timeout, nothing sent', async () => {
    const store = memoryStore();
    const { release, done } = await holdKey(store);
    const error = await rejection(waiter(store).post('/plain/orders', body, { timeout: 100 }));
    expect(error).toBeInstanceOf(AxiosError);
    expect((error as AxiosError).code).toBe(AxiosError.ECONNABORTED);
    expect((error as AxiosError).message).toBe('timeout of 100ms exceeded');
    expect(server().requests()).toHaveLength(0);
    release();
    await done;
  });

  it('signal: aborting while waiting gives a CanceledError, nothing sent', async () => {
    const store = memoryStore();
    const { release, done } = await holdKey(store);
    const controller = new AbortController();
    const client = waiter(store, (event) => {
      if (event.type === 'waiting') controller.abort();
    });
    const error = await rejection(client.post('/plain/orders', body, { signal: controller.signal }));
    expect(isCancel(error)).toBe(true);
    expect(server().requests()).toHaveLength(0);
    release();
    await done;
  });

  it("timeout while the provider keeps answering 'key in use': an axios timeout error", async () => {
    const idem = createIdempotency({ routes: [{ match: 'POST /native/*', provider: 'stripe' }] });
    const client = withIdempotency(axios.create({ baseURL: server().url }), idem);
    server().inject('/native/', { inUseForever: true });
    const error = await rejection(client.post('/native/charges', body, { timeout: 300 }));
    expect((error as AxiosError).code).toBe(AxiosError.ECONNABORTED);
    expect(server().requests().length).toBeGreaterThanOrEqual(1);
    expect(server().writes()).toBe(0);
  });

  it('without a timeout the waiter gets the holder response as a replay once it completes', async () => {
    const store = memoryStore();
    const { release, done } = await holdKey(store);
    const waiting = waiter(store, (event) => {
      if (event.type === 'waiting') release();
    }).post('/plain/orders', body);
    const response = await waiting;
    await done;
    expect(response.data).toEqual({ id: 'held' });
    expect(response.oncely?.replayed).toBe(true);
    expect(server().requests()).toHaveLength(0);
  });
});
