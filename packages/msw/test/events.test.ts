import { request as httpRequest } from 'node:http';
import { type EmulatorEvent, KEY_MISSING, plainApi, serve, stripeLike } from '@oncely/msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The extensions the chaos suite's provider runs on: `onEvent`, per-kind fault counts, the latency
 * spike, `requireKey` / `keyCheckFirst`, `rollBackAbandoned` over `serve()`, `lookupAlso`, and
 * `serve({ keepAliveTimeoutMs })`.
 */
const STRIPE = 'https://events-stripe.test';
const PLAIN = 'https://events-plain.test/api';

/** A random that answers the scripted values in turn, then 0.99 (no fault). */
function scripted(values: number[]) {
  const queue = [...values];
  return () => queue.shift() ?? 0.99;
}

function post(url: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('onEvent, fault counts, latency spike, key options (intercepted)', () => {
  const events: EmulatorEvent[] = [];
  let random = scripted([]);
  const native = stripeLike({
    baseUrl: STRIPE,
    faults: { error5xxBeforeCommit: 0.5, latencySpike: { rate: 0.5, ms: 30 } },
    random: () => random(),
    onEvent: (event) => events.push(event),
    requireKey: true,
    keyCheckFirst: true,
  });
  const tickets = plainApi({ baseUrl: PLAIN, lookupAlso: [native], onEvent: (e) => events.push(e) });
  const server = setupServer(...native.handlers, ...tickets.handlers);
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
  afterAll(() => server.close());
  const reset = () => {
    native.reset();
    tickets.reset();
    events.length = 0;
  };

  it('a drawn spike waits its duration before the commit, counted and reported in order', async () => {
    reset();
    // draws: error5xxBeforeCommit 0.9 (no), latencySpike 0.1 (yes)
    random = scripted([0.9, 0.1]);
    const started = performance.now();
    const res = await post(`${STRIPE}/v1/charges`, { ref: 'c-1' }, { 'idempotency-key': 'k1' });
    const elapsed = performance.now() - started;
    expect(res.status).toBe(200);
    expect(elapsed).toBeGreaterThanOrEqual(28);
    expect(events.map((e) => (e.type === 'fault' ? `fault ${e.fault}` : e.type))).toEqual([
      'started',
      'fault latencySpike',
      'committed',
    ]);
    expect(native.stats().faults).toEqual({
      dropAfterCommit: 0,
      error5xxAfterCommit: 0,
      error5xxBeforeCommit: 0,
      keyInUse: 0,
      latencySpike: 1,
    });
  });

  it('a spike not drawn (0.6 ≥ 0.5) does not wait and is not counted', async () => {
    reset();
    random = scripted([0.9, 0.6]);
    expect((await post(`${STRIPE}/v1/charges`, { ref: 'c-2' }, { 'idempotency-key': 'k2' })).status).toBe(
      200,
    );
    expect(native.stats().faults.latencySpike).toBe(0);
    expect(events.some((e) => e.type === 'fault')).toBe(false);
  });

  it('counts a 503 before commit and a 500 after commit apart (errors5xx is their sum)', async () => {
    reset();
    random = scripted([]);
    tickets.inject({ error5xxBeforeCommit: 1, error5xxAfterCommit: 1 });
    expect((await post(`${PLAIN}/t`, { ref: 't-1' })).status).toBe(503);
    expect((await post(`${PLAIN}/t`, { ref: 't-1' })).status).toBe(500);
    const stats = tickets.stats();
    expect(stats.errors5xx).toBe(2);
    expect(stats.faults).toMatchObject({ error5xxBeforeCommit: 1, error5xxAfterCommit: 1 });
    expect(events.filter((e) => e.type === 'fault').map((e) => e.type === 'fault' && e.fault)).toEqual([
      'error5xxBeforeCommit',
      'error5xxAfterCommit',
    ]);
  });

  it('requireKey: a write without a key answers 400 and runs nothing', async () => {
    reset();
    const res = await post(`${STRIPE}/v1/charges`, { ref: 'c-3' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual(KEY_MISSING);
    expect(native.stats()).toMatchObject({ writes: 0, invalid: 1 });
    expect(events).toEqual([]);
  });

  it('keyCheckFirst: a replay is not faulted and does not start; the next new key takes the 503', async () => {
    reset();
    random = scripted([0.9, 0.9]);
    const headers = { 'idempotency-key': 'k4' };
    const first = await post(`${STRIPE}/v1/charges`, { ref: 'c-4' }, headers);
    native.inject({ error5xxBeforeCommit: 1 });
    const replay = await post(`${STRIPE}/v1/charges`, { ref: 'c-4' }, headers);
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await replay.text()).toBe(await first.text());
    expect(events.filter((e) => e.type === 'started')).toHaveLength(1);
    const other = await post(`${STRIPE}/v1/charges`, { ref: 'c-5' }, { 'idempotency-key': 'k5' });
    expect(other.status).toBe(503);
    // The 503 came after the key check: the key stays free, and its write started.
    expect(events.filter((e) => e.type === 'started')).toHaveLength(2);
    expect(native.stats()).toMatchObject({ writes: 1, replays: 1, errors5xx: 1 });
  });

  it('without keyCheckFirst (the default) the 503 comes before the key check, replays included', async () => {
    const plainStripe = stripeLike({ baseUrl: 'https://default-order.test' });
    const local = setupServer(...plainStripe.handlers);
    server.close();
    local.listen({ onUnhandledRequest: 'error' });
    try {
      const headers = { 'idempotency-key': 'k6' };
      expect((await post('https://default-order.test/v1/charges', { a: 1 }, headers)).status).toBe(200);
      plainStripe.inject({ error5xxBeforeCommit: 1 });
      expect((await post('https://default-order.test/v1/charges', { a: 1 }, headers)).status).toBe(503);
      expect(plainStripe.stats()).toMatchObject({ writes: 1, replays: 0, errors5xx: 1 });
    } finally {
      local.close();
      server.listen({ onUnhandledRequest: 'error' });
    }
  });

  it('lookupAlso: the plain lookup finds a keyed write by its ref too, byte for byte', async () => {
    reset();
    random = scripted([]);
    const created = await post(
      `${STRIPE}/v1/charges`,
      { ref: 'both-1', amount: 5 },
      { 'idempotency-key': 'k7' },
    );
    const found = await fetch(`${PLAIN}/lookup?ref=both-1`);
    expect(found.status).toBe(200);
    expect(await found.text()).toBe(await created.text());
    expect((await fetch(`${PLAIN}/lookup?ref=nobody`)).status).toBe(404);
    expect(native.find('both-1')).toMatchObject({ ref: 'both-1', amount: 5 });
    expect(events.filter((e) => e.type === 'lookup')).toEqual([
      { type: 'lookup', ref: 'both-1', found: true },
      { type: 'lookup', ref: 'nobody', found: false },
    ]);
  });

  it('rejects a spike rate outside [0, 1] and a negative spike duration', () => {
    expect(() => plainApi({ baseUrl: PLAIN, faults: { latencySpike: { rate: 2, ms: 1 } } })).toThrow(
      RangeError,
    );
    expect(() => plainApi({ baseUrl: PLAIN, faults: { latencySpike: { rate: 0.1, ms: -1 } } })).toThrow(
      RangeError,
    );
  });
});

describe('rollBackAbandoned over serve(): a client gone before the commit', () => {
  const ORIGIN = 'https://rollback.test';
  /** Resolves when the next event of this type arrives. */
  const waiters = new Map<string, (event: EmulatorEvent) => void>();
  const next = (type: EmulatorEvent['type']) =>
    new Promise<EmulatorEvent>((resolve) => waiters.set(type, resolve));
  let abortDuringSpike: AbortController | undefined;
  const tickets = plainApi({
    baseUrl: ORIGIN,
    faults: { latencySpike: { rate: 1, ms: 100 } },
    rollBackAbandoned: (write) => write.path.startsWith('/rec/'),
    onEvent(event) {
      // The client hangs up while the write waits out its spike.
      if (event.type === 'fault' && event.fault === 'latencySpike') abortDuringSpike?.abort();
      waiters.get(event.type)?.(event);
      waiters.delete(event.type);
    },
  });
  let url = '';
  let close = async () => {};
  beforeAll(async () => {
    const served = await serve(tickets.handlers, { origin: ORIGIN });
    url = served.url;
    close = served.close;
  });
  afterAll(() => close());

  /** A write whose client aborts as soon as the emulator starts its spike: what the client saw. */
  function hangUpDuringSpike(target: string, ref: string) {
    abortDuringSpike = new AbortController();
    return fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ref }),
      signal: abortDuringSpike.signal,
    }).catch((error: unknown) => error);
  }

  it('on a route it covers, the write is not committed: counted, reported, the lookup says 404', async () => {
    tickets.reset();
    const rolledBack = next('rolledBack');
    expect(await hangUpDuringSpike(`${url}/rec/orders`, 'r-1')).toMatchObject({ name: 'AbortError' });
    expect(await rolledBack).toMatchObject({
      type: 'rolledBack',
      write: { path: '/rec/orders', key: 'r-1' },
    });
    expect(tickets.written()).toEqual([]);
    expect(tickets.stats()).toMatchObject({ writes: 0, rolledBack: 1, faults: { latencySpike: 1 } });
    expect((await fetch(`${url}/lookup?ref=r-1`)).status).toBe(404);
  });

  it('elsewhere the abandoned write commits anyway (what most providers do)', async () => {
    tickets.reset();
    const committed = next('committed');
    expect(await hangUpDuringSpike(`${url}/bare/orders`, 'r-2')).toMatchObject({ name: 'AbortError' });
    expect(await committed).toMatchObject({ type: 'committed', resource: { ref: 'r-2' } });
    expect(tickets.stats()).toMatchObject({ writes: 1, rolledBack: 0 });
    expect((await fetch(`${url}/lookup?ref=r-2`)).status).toBe(200);
  });

  it('a client that waits gets its answer after the spike, committed', async () => {
    tickets.reset();
    abortDuringSpike = undefined;
    const res = await post(`${url}/rec/orders`, { ref: 'r-3' });
    expect(res.status).toBe(201);
    expect(tickets.stats()).toMatchObject({ writes: 1, rolledBack: 0 });
  });
});

describe('serve({ keepAliveTimeoutMs })', () => {
  it('keeps idle connections for the given time (announced in Keep-Alive)', async () => {
    const tickets = plainApi({ baseUrl: 'https://keepalive.test' });
    const served = await serve(tickets.handlers, {
      origin: 'https://keepalive.test',
      keepAliveTimeoutMs: 60_000,
    });
    const fallback = await serve(tickets.handlers, { origin: 'https://keepalive.test' });
    const keepAlive = (base: string) =>
      new Promise<unknown>((resolve, reject) => {
        const req = httpRequest(`${base}/lookup?ref=x`, { headers: { connection: 'keep-alive' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.headers['keep-alive']));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      expect(await keepAlive(served.url)).toBe('timeout=60');
      expect(await keepAlive(fallback.url)).toBe('timeout=5');
    } finally {
      await served.close();
      await fallback.close();
    }
  });
});
