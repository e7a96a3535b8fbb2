import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createIdempotency, type Idempotency, memoryStore, type OutgoingRequest } from '@oncely/core';
import { ATTRIBUTES, instrument, instrumentStore, METRICS } from '@oncely/core/otel';
import { type Attributes, context, type Span, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  type DataPoint,
  MeterProvider,
  type MetricData,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deferred, jsonResponse, ok } from './helpers.js';

/** Collects on demand: no export interval, so nothing is timed. */
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

const BODY_MARK = 'body-marker-7d1f';
const HEADER_MARK = 'header-marker-93ac';
const URL_MARK = 'url-marker-4be2';
const KEY_MARK = 'caller-key-marker-c0de';

function order(ref = BODY_MARK, over: Partial<OutgoingRequest> = {}): OutgoingRequest {
  return {
    method: 'POST',
    url: `https://api.example.com/v1/orders?ref=${URL_MARK}`,
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${HEADER_MARK}`,
      'x-note': HEADER_MARK,
    },
    body: JSON.stringify({ ref, amount: 100 }),
    ...over,
  };
}

const contextManager = new AsyncLocalStorageContextManager();
const exporter = new InMemorySpanExporter();
const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer(
  'test',
);
let reader: TestReader;
let meterProvider: MeterProvider;

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  context.disable();
});
beforeEach(() => {
  exporter.reset();
  reader = new TestReader();
  meterProvider = new MeterProvider({ readers: [reader] });
});

/** Runs `fn` under an active span named `name` (the app's span, or its HTTP client's). */
function underSpan<T>(name: string, fn: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, async (span: Span) => {
    try {
      return await fn();
    } finally {
      span.end();
    }
  });
}

function span(name: string): ReadableSpan {
  const found = exporter.getFinishedSpans().filter((s) => s.name === name);
  expect(found).toHaveLength(1);
  return found[0]!;
}

function oncelyAttributes(s: ReadableSpan): Attributes {
  return Object.fromEntries(Object.entries(s.attributes).filter(([name]) => name.startsWith('oncely.')));
}

async function collected(): Promise<MetricData[]> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
}

async function points(name: string): Promise<DataPoint<unknown>[]> {
  return (await collected()).find((metric) => metric.descriptor.name === name)?.dataPoints ?? [];
}

/** The value of the one counter point with exactly these attributes (0 when absent). */
async function count(name: string, attributes: Attributes): Promise<number> {
  const matching = (await points(name)).filter(
    (p) => JSON.stringify(p.attributes) === JSON.stringify(attributes),
  );
  expect(matching.length).toBeLessThanOrEqual(1);
  return (matching[0]?.value as number | undefined) ?? 0;
}

function instrumented(idem: Idempotency = createIdempotency()): Idempotency {
  return instrument(idem, { meter: meterProvider.getMeter('test') });
}

const HASH = /^[0-9a-f]{64}$/;

describe('instrument: attributes on the active span', () => {
  it('a fresh write is sent: outcome, key hash, attempt 1, no provider key', async () => {
    const idem = instrumented();
    const send = ok();
    const result = await underSpan('job', () => idem.execute(order(), send));
    expect(send).toHaveBeenCalledTimes(1);
    const attributes = oncelyAttributes(span('job'));
    expect(attributes).toEqual({
      [ATTRIBUTES.guarded]: true,
      [ATTRIBUTES.keyHash]: result.key!.split(':')[1],
      [ATTRIBUTES.outcome]: 'sent',
      [ATTRIBUTES.providerKey]: false,
      [ATTRIBUTES.attempts]: 1,
    });
    expect(attributes[ATTRIBUTES.keyHash]).toMatch(HASH);
    expect(await count(METRICS.replays, { [ATTRIBUTES.outcome]: 'replayed' })).toBe(0);
  });

  it('a provider preset carries its key: oncely.provider_key=true', async () => {
    const idem = instrumented(
      createIdempotency({ routes: [{ match: 'POST https://api.stripe.com/v1/*', provider: 'stripe' }] }),
    );
    const send = ok();
    await underSpan('job', () =>
      idem.execute(order(BODY_MARK, { url: 'https://api.stripe.com/v1/charges' }), send),
    );
    expect(Object.keys(send.calls[0]!.setHeaders)).toContain('idempotency-key');
    expect(oncelyAttributes(span('job'))[ATTRIBUTES.providerKey]).toBe(true);
  });

  it('its replay is replayed, sends nothing and is counted', async () => {
    const idem = instrumented();
    const send = ok();
    const first = await underSpan('first', () => idem.execute(order(), send));
    const again = await underSpan('again', () => idem.execute(order(), send));
    expect(again.replayed).toBe(true);
    expect(send).toHaveBeenCalledTimes(1);
    expect(oncelyAttributes(span('again'))).toEqual({
      [ATTRIBUTES.guarded]: true,
      [ATTRIBUTES.keyHash]: first.key!.split(':')[1],
      [ATTRIBUTES.outcome]: 'replayed',
      [ATTRIBUTES.providerKey]: false,
      [ATTRIBUTES.attempts]: 0,
    });
    expect(await count(METRICS.replays, { [ATTRIBUTES.outcome]: 'replayed' })).toBe(1);
    expect(await count(METRICS.waits, { [ATTRIBUTES.guarded]: true, [ATTRIBUTES.outcome]: 'replayed' })).toBe(
      0,
    );
  });

  it('a mismatch is refused with its code, rethrown unchanged and counted', async () => {
    const idem = instrumented();
    const send = ok();
    await underSpan('first', () => idem.execute(order('a'), send, { key: KEY_MARK }));
    const refused = underSpan('second', () => idem.execute(order('b'), send, { key: KEY_MARK }));
    await expect(refused).rejects.toMatchObject({ code: 'ONCELY_PAYLOAD_MISMATCH' });
    expect(send).toHaveBeenCalledTimes(1);
    const attributes = oncelyAttributes(span('second'));
    expect(attributes[ATTRIBUTES.outcome]).toBe('refused');
    expect(attributes[ATTRIBUTES.errorCode]).toBe('ONCELY_PAYLOAD_MISMATCH');
    expect(attributes[ATTRIBUTES.keyHash]).toMatch(HASH);
    expect(await count(METRICS.refusals, { [ATTRIBUTES.errorCode]: 'ONCELY_PAYLOAD_MISMATCH' })).toBe(1);
  });

  it('a concurrent twin in this process is coalesced; the owner stays sent', async () => {
    const idem = instrumented();
    const started = deferred();
    const release = deferred();
    let sends = 0;
    const send = async () => {
      sends++;
      started.resolve();
      await release.promise;
      return jsonResponse(200, { id: 'ord_1' });
    };
    const owner = underSpan('owner', () => idem.execute(order(), send));
    await started.promise;
    const twin = underSpan('twin', () => idem.execute(order(), send));
    release.resolve();
    const [a, b] = await Promise.all([owner, twin]);
    expect(sends).toBe(1);
    expect(b.replayed).toBe(true);
    expect(oncelyAttributes(span('owner'))).toMatchObject({
      [ATTRIBUTES.outcome]: 'sent',
      [ATTRIBUTES.attempts]: 1,
    });
    expect(oncelyAttributes(span('twin'))).toEqual({
      [ATTRIBUTES.guarded]: true,
      [ATTRIBUTES.keyHash]: a.key!.split(':')[1],
      [ATTRIBUTES.outcome]: 'coalesced',
      [ATTRIBUTES.providerKey]: false,
      [ATTRIBUTES.attempts]: 0,
    });
    expect(await count(METRICS.replays, { [ATTRIBUTES.outcome]: 'coalesced' })).toBe(1);
    // The twin's `coalesced` event is its own: the owner, with the same key, did not wait.
    expect(await count(METRICS.waits, { [ATTRIBUTES.guarded]: true, [ATTRIBUTES.outcome]: 'sent' })).toBe(0);
    expect(
      await count(METRICS.waits, { [ATTRIBUTES.guarded]: true, [ATTRIBUTES.outcome]: 'coalesced' }),
    ).toBe(1);
  });

  it('a twin in another process (shared store) waits, then replays: waited, timed', async () => {
    const store = memoryStore();
    const waiting = deferred();
    const ownerIdem = instrumented(createIdempotency({ store }));
    const waiterIdem = instrumented(
      createIdempotency({ store, onEvent: (event) => event.type === 'waiting' && waiting.resolve() }),
    );
    const started = deferred();
    const release = deferred();
    const send = async () => {
      started.resolve();
      await release.promise;
      return jsonResponse(200, { id: 'ord_1' });
    };
    const owner = underSpan('owner', () => ownerIdem.execute(order(), send));
    await started.promise;
    const waiter = underSpan('waiter', () => waiterIdem.execute(order(), send));
    await waiting.promise;
    release.resolve();
    const [, b] = await Promise.all([owner, waiter]);
    expect(b.replayed).toBe(true);
    expect(oncelyAttributes(span('owner'))[ATTRIBUTES.outcome]).toBe('sent');
    expect(oncelyAttributes(span('waiter'))).toMatchObject({
      [ATTRIBUTES.outcome]: 'waited',
      [ATTRIBUTES.attempts]: 0,
    });
    const waited = { [ATTRIBUTES.guarded]: true, [ATTRIBUTES.outcome]: 'waited' };
    expect(await count(METRICS.waits, waited)).toBe(1);
    expect(await count(METRICS.replays, { [ATTRIBUTES.outcome]: 'waited' })).toBe(1);
    const durations = (await points(METRICS.waitDuration)).map(
      (p) => p.value as { count: number; min: number },
    );
    expect(durations).toHaveLength(1);
    expect(durations[0]!.count).toBe(1);
    expect(durations[0]!.min).toBeGreaterThanOrEqual(0);
    store.close();
  });

  it('an unguarded GET gets only oncely.guarded=false', async () => {
    const idem = instrumented();
    const send = ok();
    const result = await underSpan('get', () =>
      idem.execute({ method: 'GET', url: 'https://api.example.com/v1/orders', headers: {} }, send),
    );
    expect(result.guarded).toBe(false);
    expect(send).toHaveBeenCalledTimes(1);
    expect(oncelyAttributes(span('get'))).toEqual({ [ATTRIBUTES.guarded]: false });
    const executes = await points(METRICS.executeDuration);
    expect(executes.map((p) => p.attributes)).toEqual([{ [ATTRIBUTES.guarded]: false }]);
    expect(await points(METRICS.replays)).toEqual([]);
  });

  it('a transport error after sending: outcome sent, the error rethrown as is', async () => {
    const idem = instrumented();
    const boom = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const send = async () => {
      throw boom;
    };
    await expect(underSpan('job', () => idem.execute(order(), send))).rejects.toBe(boom);
    const attributes = oncelyAttributes(span('job'));
    expect(attributes[ATTRIBUTES.outcome]).toBe('sent');
    expect(attributes[ATTRIBUTES.errorCode]).toBeUndefined();
  });

  it('without an active span nothing is annotated, and metrics are still recorded', async () => {
    const idem = instrumented();
    expect(trace.getActiveSpan()).toBeUndefined();
    await idem.execute(order(), ok());
    expect(exporter.getFinishedSpans()).toEqual([]);
    const executes = await points(METRICS.executeDuration);
    expect(executes.map((p) => p.attributes)).toEqual([
      { [ATTRIBUTES.guarded]: true, [ATTRIBUTES.outcome]: 'sent' },
    ]);
  });

  it("span: 'none' leaves the active span alone", async () => {
    const idem = instrument(createIdempotency(), { meter: meterProvider.getMeter('test'), span: 'none' });
    await underSpan('job', () => idem.execute(order(), ok()));
    expect(oncelyAttributes(span('job'))).toEqual({});
    expect(await points(METRICS.executeDuration)).toHaveLength(1);
  });

  it('no attribute value, on spans or metric points, contains the body, a header, the URL or the caller key', async () => {
    const store = memoryStore();
    const idem = instrumented(
      createIdempotency({ store: instrumentStore(store, { meter: meterProvider.getMeter('test') }) }),
    );
    const send = ok();
    await underSpan('a', () => idem.execute(order(), send));
    await underSpan('b', () => idem.execute(order(), send));
    await underSpan('c', () =>
      idem.execute(order(BODY_MARK, { headers: { 'x-note': HEADER_MARK } }), send, { key: KEY_MARK }),
    );
    await expect(
      underSpan('d', () =>
        idem.execute(order(`${BODY_MARK}-changed`, { headers: { 'x-note': HEADER_MARK } }), send, {
          key: KEY_MARK,
        }),
      ),
    ).rejects.toMatchObject({ code: 'ONCELY_PAYLOAD_MISMATCH' });
    const values: string[] = exporter
      .getFinishedSpans()
      .flatMap((s) => Object.values(s.attributes).map(String));
    for (const metric of await collected()) {
      for (const point of metric.dataPoints) values.push(...Object.values(point.attributes).map(String));
    }
    expect(values.length).toBeGreaterThan(20);
    for (const value of values) {
      for (const mark of [BODY_MARK, HEADER_MARK, URL_MARK, KEY_MARK, 'Bearer', 'api.example.com']) {
        expect(value).not.toContain(mark);
      }
    }
    store.close();
  });
});

describe("instrument({ span: 'create' })", () => {
  it('wraps the call in a child span oncely.execute, which the HTTP span nests under', async () => {
    const idem = instrument(createIdempotency(), {
      tracer,
      meter: meterProvider.getMeter('test'),
      span: 'create',
    });
    const send = async () => {
      tracer.startSpan('POST (http client)').end();
      return jsonResponse(200, { id: 'ord_1' });
    };
    await underSpan('job', () => idem.execute(order(), send));
    const job = span('job');
    const own = span('oncely.execute');
    const http = span('POST (http client)');
    expect(own.parentSpanContext?.spanId).toBe(job.spanContext().spanId);
    expect(http.parentSpanContext?.spanId).toBe(own.spanContext().spanId);
    expect(oncelyAttributes(own)[ATTRIBUTES.outcome]).toBe('sent');
    expect(oncelyAttributes(job)).toEqual({});
  });

  it('a refusal sets the span status to the code, never the message', async () => {
    const idem = instrument(createIdempotency(), {
      tracer,
      meter: meterProvider.getMeter('test'),
      span: 'create',
    });
    await idem.execute(order('a'), ok(), { key: KEY_MARK });
    exporter.reset();
    await expect(idem.execute(order('b'), ok(), { key: KEY_MARK })).rejects.toThrow();
    const own = span('oncely.execute');
    expect(own.status).toEqual({ code: 2, message: 'ONCELY_PAYLOAD_MISMATCH' });
    expect(oncelyAttributes(own)[ATTRIBUTES.outcome]).toBe('refused');
  });
});

describe('the wrapper', () => {
  it('delegates everything but execute', () => {
    const store = memoryStore();
    const idem = createIdempotency({ store, namespace: 'billing' });
    const wrapped = instrumented(idem);
    expect(wrapped.store).toBe(store);
    expect(wrapped.namespace).toBe('billing');
    expect(wrapped.maxBodyBytes).toBe(idem.maxBodyBytes);
    expect(wrapped.isGuarded('POST', 'https://api.example.com/x')).toBe(true);
    expect(wrapped.isGuarded('GET', 'https://api.example.com/x')).toBe(false);
    expect(wrapped.keyFor(order())).toEqual(idem.keyFor(order()));
    store.close();
  });
});

describe('instrumentStore', () => {
  it('times each store call by operation; the store keeps its own members', async () => {
    const store = memoryStore();
    const timed = instrumentStore(store, { meter: meterProvider.getMeter('test') });
    const idem = createIdempotency({ store: timed });
    await idem.execute(order(), ok());
    const operations = (await points(METRICS.storeDuration)).map((p) => ({
      operation: p.attributes[ATTRIBUTES.storeOperation],
      count: (p.value as { count: number }).count,
    }));
    expect(operations).toEqual(
      expect.arrayContaining([
        { operation: 'reserve', count: 1 },
        { operation: 'complete', count: 1 },
      ]),
    );
    expect(timed.size).toBe(1);
    expect(timed.close).toBeTypeOf('function');
    await timed.close();
  });

  it('records a failing call with error.type and rethrows it', async () => {
    const store = memoryStore();
    const timed = instrumentStore(store, { meter: meterProvider.getMeter('test') });
    await expect(timed.get('oncely:nope')).resolves.toBeUndefined();
    await expect(timed.extend('oncely:nope', 7, 1000)).rejects.toMatchObject({ name: 'LeaseLostError' });
    const failed = (await points(METRICS.storeDuration)).find(
      (p) => p.attributes[ATTRIBUTES.storeOperation] === 'extend',
    );
    expect(failed?.attributes['error.type']).toBe('LeaseLostError');
    const got = (await points(METRICS.storeDuration)).find(
      (p) => p.attributes[ATTRIBUTES.storeOperation] === 'get',
    );
    expect(got?.attributes).toEqual({ [ATTRIBUTES.storeOperation]: 'get' });
    store.close();
  });
});

describe('the main entry stays free of OpenTelemetry', () => {
  it('only src/otel imports @opentelemetry/*, and nothing outside it imports src/otel', () => {
    const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
    const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(20);
    const offenders = files.filter((file) => {
      const inOtel = relative(src, join(src, file)).startsWith('otel');
      const text = readFileSync(join(src, file), 'utf8');
      return inOtel ? false : /from '@opentelemetry\/|from '\.{1,2}\/(\.\.\/)*otel\//.test(text);
    });
    expect(offenders).toEqual([]);
  });
});
