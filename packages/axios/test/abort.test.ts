import { createIdempotency, type IdempotencyStore, memoryStore } from '@oncely/core';
import axios, { isCancel } from 'axios';
import { describe, expect, it } from 'vitest';
import { withIdempotency } from '../src/index.js';
import { useFakeServer } from './harness.js';

/** A caller that gives up while oncely still reserves the key: nothing may be sent afterwards. */
describe('abort while the reservation is in flight (axios)', () => {
  const { server } = useFakeServer();

  it('an AbortSignal fired during reserve: no request reaches the server, the key is free, axios raises its cancel', async () => {
    const inner = memoryStore();
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    let reserving!: () => void;
    const reserveStarted = new Promise<void>((resolve) => {
      reserving = resolve;
    });
    const store: IdempotencyStore = Object.assign(Object.create(inner) as IdempotencyStore, {
      async reserve(input: Parameters<IdempotencyStore['reserve']>[0]) {
        reserving();
        await gate;
        return inner.reserve(input);
      },
    });
    const idem = createIdempotency({ namespace: 'axios-abort', store });
    const client = withIdempotency(axios.create(), idem);
    const controller = new AbortController();
    const url = `${server().url}/plain/v1/x`;
    const call = client.post(url, { amount: 1 }, { signal: controller.signal });
    await reserveStarted;
    controller.abort();
    openGate();
    const error = await call.catch((caught: unknown) => caught);
    expect(isCancel(error) || (error as { code?: string }).code === 'ERR_CANCELED').toBe(true);
    expect(server().requests()).toHaveLength(0);
    const key = idem.keyFor({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json' },
      body: '{"amount":1}',
    })!.key;
    expect(await inner.get(key)).toBeUndefined();
  });
});
