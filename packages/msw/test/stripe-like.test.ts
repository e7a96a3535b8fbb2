import { KEY_IN_USE, KEY_MISMATCH, stripeLike } from '@oncely/msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const BASE = 'https://api.stripe.test';
const CHARGES = `${BASE}/v1/charges`;

let clock = 0;
let gate: { reached: () => void; release: Promise<void> } | undefined;
const stripe = stripeLike({
  baseUrl: BASE,
  retention: '24h',
  requiredFields: ['amount'],
  now: () => clock,
  beforeCommit: async () => {
    if (!gate) return;
    gate.reached();
    await gate.release;
  },
});
const server = setupServer(...stripe.handlers);

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  stripe.reset();
  clock = 0;
  gate = undefined;
});
afterAll(() => server.close());

function charge(body: Record<string, unknown>, key?: string) {
  return fetch(CHARGES, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    body: JSON.stringify(body),
  });
}

/** Holds the next keyed write between reserving its key and committing it. */
function holdNextWrite() {
  let reached!: () => void;
  let release!: () => void;
  const atCommit = new Promise<void>((resolve) => {
    reached = resolve;
  });
  gate = { reached, release: new Promise<void>((resolve) => (release = resolve)) };
  return { atCommit, release };
}

describe('stripeLike', () => {
  it('creates a resource on first use of a key', async () => {
    const res = await charge({ amount: 100 }, 'k1');
    expect(res.status).toBe(200);
    expect(res.headers.get('idempotent-replayed')).toBeNull();
    expect(await res.json()).toMatchObject({ id: 'obj_1', object: 'charges', amount: 100 });
    expect(stripe.stats()).toMatchObject({ writes: 1, replays: 0, byKey: { k1: { writes: 1 } } });
  });

  it('replays the saved answer for the same key and parameters, marked Idempotent-Replayed', async () => {
    const first = await (await charge({ amount: 100 }, 'k1')).json();
    const again = await charge({ amount: 100 }, 'k1');
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(first);
    expect(stripe.stats()).toMatchObject({ writes: 1, replays: 1, duplicates: 0 });
    expect(stripe.stats().byKey.k1).toEqual({ writes: 1, replays: 1, inUse: 0, mismatches: 0 });
  });

  it('answers 400 idempotency_error when the key comes back with other parameters', async () => {
    await charge({ amount: 100 }, 'k1');
    const other = await charge({ amount: 120 }, 'k1');
    expect(other.status).toBe(400);
    expect(await other.json()).toEqual(KEY_MISMATCH);
    expect(stripe.stats()).toMatchObject({ writes: 1, mismatches: 1 });
  });

  it('answers 409 idempotency_key_in_use while the first request runs', async () => {
    const hold = holdNextWrite();
    const first = charge({ amount: 100 }, 'k1');
    await hold.atCommit;
    const twin = await charge({ amount: 100 }, 'k1');
    expect(twin.status).toBe(409);
    expect(await twin.json()).toEqual(KEY_IN_USE);
    hold.release();
    expect((await first).status).toBe(200);
    expect((await charge({ amount: 100 }, 'k1')).headers.get('idempotent-replayed')).toBe('true');
    expect(stripe.stats()).toMatchObject({ writes: 1, inUse: 1, replays: 1 });
  });

  it('does not save validation errors under the key', async () => {
    const invalid = await charge({ currency: 'eur' }, 'k1');
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({ error: { code: 'parameter_missing', param: 'amount' } });
    const fixed = await charge({ amount: 100, currency: 'eur' }, 'k1');
    expect(fixed.status).toBe(200);
    expect(stripe.stats()).toMatchObject({ writes: 1, invalid: 1, mismatches: 0 });
  });

  it('forgets a key after the retention window', async () => {
    await charge({ amount: 100 }, 'k1');
    clock = 24 * 3_600_000 - 1;
    expect((await charge({ amount: 100 }, 'k1')).headers.get('idempotent-replayed')).toBe('true');
    clock = 24 * 3_600_000;
    const reused = await charge({ amount: 999 }, 'k1');
    expect(reused.status).toBe(200);
    expect(stripe.stats()).toMatchObject({ writes: 2, duplicates: 1, mismatches: 0 });
  });

  it('never deduplicates writes without a key', async () => {
    await charge({ amount: 100 });
    await charge({ amount: 100 });
    expect(stripe.stats()).toMatchObject({ writes: 2, byKey: {} });
    expect(stripe.written().map((w) => w.resource.id)).toEqual(['obj_1', 'obj_2']);
  });

  it('reads form bodies as Stripe sends them', async () => {
    const res = await fetch(CHARGES, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': 'k1' },
      body: 'amount=100&currency=eur',
    });
    expect(await res.json()).toMatchObject({ amount: '100', currency: 'eur' });
  });

  it('retrieves a created resource by id', async () => {
    const created = (await (await charge({ amount: 100 }, 'k1')).json()) as { id: string };
    const found = await fetch(`${CHARGES}/${created.id}`);
    expect(await found.json()).toMatchObject({ id: created.id, amount: 100 });
    expect((await fetch(`${CHARGES}/obj_404`)).status).toBe(404);
  });

  it('reset forgets writes, keys and stats', async () => {
    await charge({ amount: 100 }, 'k1');
    stripe.reset();
    expect(stripe.stats()).toMatchObject({ writes: 0, byKey: {} });
    expect((await charge({ amount: 120 }, 'k1')).status).toBe(200);
  });
});

describe('stripeLike faults', () => {
  it('dropAfterCommit: the write is committed and saved, the response is lost; a retry replays it', async () => {
    stripe.inject({ dropAfterCommit: 1 });
    await expect(charge({ amount: 100 }, 'k1')).rejects.toThrow(TypeError);
    const retry = await charge({ amount: 100 }, 'k1');
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(stripe.stats()).toMatchObject({ writes: 1, dropped: 1, replays: 1 });
  });

  it('dropAfterCommit without a key: the retry writes again (the double charge)', async () => {
    stripe.inject({ dropAfterCommit: 1 });
    await expect(charge({ amount: 100 })).rejects.toThrow(TypeError);
    expect((await charge({ amount: 100 })).status).toBe(200);
    expect(stripe.stats()).toMatchObject({ writes: 2, dropped: 1 });
  });

  it('error5xxBeforeCommit: 503, nothing written, the key stays free', async () => {
    stripe.inject({ error5xxBeforeCommit: 1 });
    expect((await charge({ amount: 100 }, 'k1')).status).toBe(503);
    expect(stripe.stats()).toMatchObject({ writes: 0, errors5xx: 1 });
    const retry = await charge({ amount: 100 }, 'k1');
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
  });

  it('error5xxAfterCommit: 500 after the write; the key keeps the success for a replay', async () => {
    stripe.inject({ error5xxAfterCommit: 1 });
    expect((await charge({ amount: 100 }, 'k1')).status).toBe(500);
    const retry = await charge({ amount: 100 }, 'k1');
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(stripe.stats()).toMatchObject({ writes: 1, errors5xx: 1 });
  });

  it('rates draw from the random source, so a scripted one is reproducible', async () => {
    const draws = [0.9, 0.1, 0.5];
    const flaky = stripeLike({
      baseUrl: 'https://flaky.test',
      faults: { dropAfterCommit: 0.5 },
      random: () => draws.shift() ?? 1,
    });
    server.use(...flaky.handlers);
    const post = () => fetch('https://flaky.test/v1/charges', { method: 'POST', body: '{}' });
    expect((await post()).status).toBe(200);
    await expect(post()).rejects.toThrow(TypeError);
    expect((await post()).status).toBe(200);
    expect(flaky.stats()).toMatchObject({ writes: 3, dropped: 1 });
    server.resetHandlers();
  });

  it('latencyMs: concurrent twins of a slow write never write twice (409 or replay, whatever the timing)', async () => {
    const slow = stripeLike({ baseUrl: 'https://slow.test', faults: { latencyMs: 30 } });
    server.use(...slow.handlers);
    const post = () =>
      fetch('https://slow.test/v1/charges', {
        method: 'POST',
        headers: { 'idempotency-key': 'k1' },
        body: '{}',
      });
    const statuses = (await Promise.all([post(), post()])).map((res) => res.status).sort();
    const stats = slow.stats();
    expect(stats.writes).toBe(1);
    expect(stats.inUse + stats.replays).toBe(1);
    expect(statuses).toEqual(stats.inUse === 1 ? [200, 409] : [200, 200]);
    server.resetHandlers();
  });

  it('keyInUse: a keyed write answers 409 without running; the key stays free', async () => {
    stripe.inject({ keyInUse: 1 });
    const refused = await charge({ amount: 100 }, 'k1');
    expect(refused.status).toBe(409);
    expect(await refused.json()).toEqual(KEY_IN_USE);
    const retry = await charge({ amount: 100 }, 'k1');
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(stripe.stats()).toMatchObject({ writes: 1, inUse: 1 });
  });

  it('keyInUse: Infinity refuses every keyed write until reset; writes without a key still run', async () => {
    stripe.inject({ keyInUse: Number.POSITIVE_INFINITY });
    const statuses = [];
    for (const key of ['k1', 'k1', 'k2']) statuses.push((await charge({ amount: 100 }, key)).status);
    expect(statuses).toEqual([409, 409, 409]);
    expect((await charge({ amount: 100 })).status).toBe(200);
    expect(stripe.stats()).toMatchObject({ writes: 1, inUse: 3 });
    stripe.reset();
    expect((await charge({ amount: 100 }, 'k1')).status).toBe(200);
  });

  it('a scoped injection is taken only by the writes it matches (path prefix, predicate)', async () => {
    stripe.inject({ dropAfterCommit: 1, pathPrefix: '/v1/refunds' });
    stripe.inject({ error5xxAfterCommit: 1, match: (write) => write.body.order === 'o-2' });
    expect((await charge({ amount: 1, order: 'o-1' })).status).toBe(200);
    expect((await charge({ amount: 1, order: 'o-2' })).status).toBe(500);
    expect((await charge({ amount: 1, order: 'o-2' })).status).toBe(200);
    const refund = fetch(`${BASE}/v1/refunds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"amount":1}',
    });
    await expect(refund).rejects.toThrow(TypeError);
    expect(stripe.stats()).toMatchObject({ writes: 4, dropped: 1, errors5xx: 1 });
  });

  it('an injected latency holds the writes in scope in flight: a concurrent twin gets 409 or the replay', async () => {
    stripe.inject({ latencyMs: 40, pathPrefix: '/v1/charges' });
    const started = performance.now();
    const statuses = (await Promise.all([charge({ amount: 1 }, 'k1'), charge({ amount: 1 }, 'k1')])).map(
      (res) => res.status,
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(39);
    expect(stripe.stats().writes).toBe(1);
    expect(statuses.filter((status) => status === 200 || status === 409)).toHaveLength(2);
  });

  it('compares parameters as bytes: bodies that decode to the same text are a mismatch', async () => {
    // 0xff and 0xfe are both invalid UTF-8: as text, both read as U+FFFD.
    const post = (byte: number) =>
      fetch(CHARGES, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'k1' },
        body: Buffer.concat([Buffer.from('{"amount":1,"note":"'), Buffer.from([byte]), Buffer.from('"}')]),
      });
    expect((await post(0xff)).status).toBe(200);
    const other = await post(0xfe);
    expect(other.status).toBe(400);
    expect(await other.json()).toEqual(KEY_MISMATCH);
  });

  it('refuses an injected count that is not a whole number', () => {
    expect(() => stripe.inject({ dropAfterCommit: 0.5 })).toThrow(RangeError);
    expect(() => stripe.inject({ keyInUse: -1 })).toThrow(RangeError);
  });

  it('refuses a rate outside [0, 1] and a base URL with a query', () => {
    expect(() => stripeLike({ baseUrl: BASE, faults: { dropAfterCommit: 20 } })).toThrow(RangeError);
    expect(() => stripeLike({ baseUrl: `${BASE}?x=1` })).toThrow(TypeError);
  });
});
