import { plainApi, stripeLike } from '@oncely/msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeServer, startFakeServer } from '../../../test/support/fake-server.js';

/**
 * The same script of requests against the conformance suite's fake server (these emulators
 * composed with an echo route and served on loopback by `serve`) and against the emulators mounted
 * in-process by MSW: statuses, bodies (ids aside) and the replay marker must agree, so what the
 * plugin suites prove over real HTTP holds for users who intercept with `setupServer`.
 */
const EMULATED = 'http://emulated.test';
const native = stripeLike({ baseUrl: `${EMULATED}/native` });
const plain = plainApi({ baseUrl: `${EMULATED}/plain` });
const server = setupServer(...native.handlers, ...plain.handlers);
let fake: FakeServer;

beforeAll(async () => {
  fake = await startFakeServer();
  // The fake server is real loopback HTTP: MSW lets it through.
  server.listen({ onUnhandledRequest: 'bypass' });
});
afterAll(async () => {
  server.close();
  await fake.close();
});

interface Step {
  method: string;
  path: string;
  key?: string;
  body?: Record<string, unknown>;
}

const SCRIPT: Step[] = [
  { method: 'POST', path: '/native/charges', key: 'k1', body: { amount: 100 } },
  { method: 'POST', path: '/native/charges', key: 'k1', body: { amount: 100 } },
  { method: 'POST', path: '/native/charges', key: 'k1', body: { amount: 120 } },
  { method: 'POST', path: '/native/refunds', key: 'k1', body: { amount: 100 } },
  { method: 'POST', path: '/native/charges', body: { amount: 100 } },
  { method: 'POST', path: '/plain/tickets', body: { ref: 'T-1', title: 'x' } },
  { method: 'POST', path: '/plain/tickets', body: { ref: 'T-1', title: 'y' } },
  { method: 'GET', path: '/plain/lookup?ref=T-1' },
  { method: 'GET', path: '/plain/lookup?ref=T-2' },
];

/** What a client can observe of one answer, with generated ids replaced by a placeholder. */
async function observe(base: string, step: Step) {
  const res = await fetch(`${base}${step.path}`, {
    method: step.method,
    headers: {
      'content-type': 'application/json',
      ...(step.key ? { 'idempotency-key': step.key } : {}),
    },
    body: step.body ? JSON.stringify(step.body) : undefined,
  });
  const json = (await res.json()) as Record<string, unknown>;
  return {
    status: res.status,
    replayed: res.headers.get('idempotent-replayed'),
    body: { ...json, ...('id' in json ? { id: '<id>' } : {}) },
  };
}

describe('@oncely/msw and the conformance fake server', () => {
  it('answer the same script the same way', async () => {
    const fromFake = [];
    const fromMsw = [];
    for (const step of SCRIPT) {
      fromFake.push(await observe(fake.url, step));
      fromMsw.push(await observe(EMULATED, step));
    }
    expect(fromMsw).toEqual(fromFake);
    expect(fromMsw.map((o) => o.status)).toEqual([200, 200, 400, 400, 200, 201, 201, 200, 404]);
    expect(native.stats().writes + plain.stats().writes).toBe(fake.writes());
  });
});
