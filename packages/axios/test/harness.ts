import { createIdempotency, type IdempotencyOptions, memoryStore } from '@oncely/core';
import axios, { type AxiosInstance, type CreateAxiosDefaults } from 'axios';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { type FakeServer, startFakeServer } from '../../../test/support/fake-server.js';
import { withIdempotency } from '../src/index.js';

/** One fake server per test file, reset after each test; `client()` builds an instance with oncely. */
export function useFakeServer() {
  const state = { server: undefined as FakeServer | undefined };
  beforeAll(async () => {
    state.server = await startFakeServer();
  });
  afterEach(() => state.server?.reset());
  afterAll(async () => {
    await state.server?.close();
  });
  const server = (): FakeServer => {
    if (!state.server) throw new Error('the fake server is not started');
    return state.server;
  };
  function client(
    defaults: CreateAxiosDefaults = {},
    options: IdempotencyOptions = {},
  ): { instance: AxiosInstance; idem: ReturnType<typeof createIdempotency> } {
    const idem = createIdempotency({
      store: memoryStore(),
      routes: [{ match: 'POST /native/*', provider: 'stripe' }],
      ...options,
    });
    const instance = withIdempotency(axios.create({ baseURL: server().url, ...defaults }), idem);
    return { instance, idem };
  }
  return { server, client };
}

/** The rejection of a promise that must reject. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to reject, it resolved');
}
