import { Agent } from 'node:http';
import {
  createIdempotency,
  type Idempotency,
  type IdempotencyOptions,
  memoryStore,
  type RouteRule,
} from '@oncely/core';
import got, { type ExtendOptions, type Got } from 'got';
import { afterAll, afterEach, beforeAll } from 'vitest';

import { type FakeServer, startFakeServer } from '../../../test/support/fake-server.js';
import { idempotency } from '../src/index.js';

export { type FakeServer, startFakeServer };

/** The routes of the shared fake server: `/native/*` deduplicates by key like Stripe, `/plain/*` does not. */
export const ROUTES: RouteRule[] = [{ match: 'POST /native/*', provider: 'stripe' }];

export interface Setup {
  idem: Idempotency;
  client: Got;
  close(): Promise<void>;
}

/** A got client with the plugin on a fresh memory store (unless given); `close` frees its sockets. */
export function setup(
  baseUrl: string,
  options: { idem?: Partial<IdempotencyOptions>; got?: ExtendOptions } = {},
): Setup {
  const idem = createIdempotency({ store: memoryStore(), routes: ROUTES, ...options.idem });
  const agent = new Agent({ keepAlive: true });
  const client = got
    .extend({ prefixUrl: baseUrl, agent: { http: agent }, retry: { limit: 0 } }, options.got ?? {})
    .extend(idempotency(idem));
  return {
    idem,
    client,
    async close() {
      agent.destroy();
      await idem.close();
    },
  };
}

/** got's retry for POST with a short backoff: the retry decision stays got's own. */
export const POST_RETRY: ExtendOptions = {
  retry: { limit: 2, methods: ['POST'], backoffLimit: 10, noise: 0 },
};

export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to reject, it resolved');
}

/**
 * Registers the suite's fake server (started once, reset after each test) and returns a client
 * factory whose clients are closed after each test. Call it inside `describe`.
 */
export function useFakeServer() {
  let current: FakeServer | undefined;
  const open: Setup[] = [];
  beforeAll(async () => {
    current = await startFakeServer();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((one) => one.close()));
    current?.reset();
  });
  afterAll(() => current?.close());
  const server = (): FakeServer => {
    if (!current) throw new Error('the fake server starts in beforeAll');
    return current;
  };
  const client = (options: Parameters<typeof setup>[1] = {}) => {
    const made = setup(server().url, options);
    open.push(made);
    return made.client;
  };
  return { server, client };
}
