import {
  type Attributes,
  type Meter,
  metrics,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { IdempotencyError } from '../errors.js';
import type {
  ExecuteOptions,
  ExecuteResult,
  Idempotency,
  OutgoingRequest,
  PreparedRequest,
  Send,
} from '../types.js';
import { ATTRIBUTES, METRICS, type Outcome, SCOPE } from './attributes.js';
import { collecting, eventsOf, type Frame, type Seen } from './collect.js';

export interface InstrumentOptions {
  /** For `span: 'create'`. Default: `trace.getTracer('@oncely/core')` (follows the global provider). */
  tracer?: Tracer | undefined;
  /**
   * Default: `metrics.getMeter('@oncely/core')` of the global provider as registered when
   * `instrument` is called — start the SDK first, or pass the meter.
   */
  meter?: Meter | undefined;
  /**
   * Where the `oncely.*` attributes go:
   * - `'active'` (default): on the span active when `execute` is called, if any (no span is created);
   * - `'create'`: on a child span `oncely.execute` around the call, which the HTTP client's spans
   *   then nest under (a replay shows no HTTP span under it);
   * - `'none'`: metrics only.
   */
  span?: 'active' | 'create' | 'none' | undefined;
}

/** What each instrument counts or times, as the meter describes it. */
const CALL_COUNTERS = {
  replays: 'Calls answered without sending: from the store, a waited-for twin or a coalesced one',
  waits: 'Calls that waited for an in-flight twin (in the store, or coalesced in this process)',
  refusals: 'Calls refused with an IdempotencyError',
} as const;
const MS_HISTOGRAMS = {
  waitDuration: 'Time a call waited for an in-flight twin',
  executeDuration: 'Duration of one execute call, sends included',
} as const;

interface Instruments {
  replays: ReturnType<Meter['createCounter']>;
  waits: ReturnType<Meter['createCounter']>;
  refusals: ReturnType<Meter['createCounter']>;
  waitDuration: ReturnType<Meter['createHistogram']>;
  executeDuration: ReturnType<Meter['createHistogram']>;
}

/** What one call did, as its result (or error), its events and its sends tell. */
interface Observed {
  guarded: boolean;
  key: string | undefined;
  outcome: Outcome | undefined;
  errorCode: string | undefined;
  providerKey: boolean;
  attempts: number;
  /** Time spent waiting for a twin (ms), `undefined` when it did not wait. */
  waitedMs: number | undefined;
}

/**
 * An `Idempotency` whose `execute` reports each call to OpenTelemetry: `oncely.*` attributes on a
 * span (see `span`) and the `oncely.*` metrics. Everything else is delegated to `idem`; results and
 * errors are those of `idem.execute`, unchanged. Give the result to the plugins instead of `idem`.
 */
export function instrument(idem: Idempotency, options: InstrumentOptions = {}): Idempotency {
  const mode = options.span ?? 'active';
  const tracer = options.tracer ?? trace.getTracer(SCOPE);
  const meter = options.meter ?? metrics.getMeter(SCOPE);
  const counter = (name: keyof typeof CALL_COUNTERS) =>
    meter.createCounter(METRICS[name], { description: CALL_COUNTERS[name], unit: '{call}' });
  const histogram = (name: keyof typeof MS_HISTOGRAMS) =>
    meter.createHistogram(METRICS[name], { description: MS_HISTOGRAMS[name], unit: 'ms' });
  const instruments: Instruments = {
    replays: counter('replays'),
    waits: counter('waits'),
    refusals: counter('refusals'),
    waitDuration: histogram('waitDuration'),
    executeDuration: histogram('executeDuration'),
  };

  async function observe(
    span: Span | undefined,
    request: OutgoingRequest,
    send: Send,
    opts: ExecuteOptions | undefined,
  ): Promise<ExecuteResult> {
    const frame: Frame = { events: [] };
    const sends: PreparedRequest[] = [];
    const counted: Send = (prepared) => {
      sends.push(prepared);
      return send(prepared);
    };
    const start = performance.now();
    let result: ExecuteResult | undefined;
    let failure: { error: unknown } | undefined;
    try {
      result = await collecting(frame, () => idem.execute(request, counted, opts));
    } catch (error) {
      failure = { error };
    }
    const end = performance.now();
    try {
      const seen = summarise(idem, request, opts, result, failure, frame, sends, end);
      if (span?.isRecording()) annotate(span, seen, failure, mode === 'create');
      record(instruments, seen, end - start);
    } catch {
      // Telemetry must never change what the caller gets.
    }
    if (failure) throw failure.error;
    return result!;
  }

  return {
    execute(request, send, opts) {
      if (mode === 'create') {
        return tracer.startActiveSpan('oncely.execute', { kind: SpanKind.INTERNAL }, async (span) => {
          try {
            return await observe(span, request, send, opts);
          } finally {
            span.end();
          }
        });
      }
      return observe(mode === 'active' ? trace.getActiveSpan() : undefined, request, send, opts);
    },
    isGuarded: (method, url, opts) => idem.isGuarded(method, url, opts),
    keyFor: (request, opts) => idem.keyFor(request, opts),
    get store() {
      return idem.store;
    },
    get namespace() {
      return idem.namespace;
    },
    get maxBodyBytes() {
      return idem.maxBodyBytes;
    },
    flush: () => idem.flush(),
    close: () => idem.close(),
  };
}

function summarise(
  idem: Idempotency,
  request: OutgoingRequest,
  opts: ExecuteOptions | undefined,
  result: ExecuteResult | undefined,
  failure: { error: unknown } | undefined,
  frame: Frame,
  sends: PreparedRequest[],
  end: number,
): Observed {
  const refusal = failure && failure.error instanceof IdempotencyError ? failure.error : undefined;
  const key = result
    ? result.key
    : (refusal?.key ?? sends.find((s) => s.key !== undefined)?.key ?? frame.events[0]?.event.key);
  const guarded = result ? result.guarded : refusal !== undefined || key !== undefined || guardedSafe();
  const events = key === undefined ? [] : eventsOf(frame, key);
  const coalesced = events.some((seen) => seen.event.type === 'coalesced');
  const waitedMs = waitTime(events, end);
  const mine = sends.filter((s) => s.key === key && key !== undefined);
  const last = mine.at(-1);
  let outcome: Outcome | undefined;
  if (refusal) outcome = 'refused';
  else if (mine.length > 0 || (result && !result.replayed)) outcome = 'sent';
  else if (coalesced) outcome = 'coalesced';
  else if (waitedMs !== undefined) outcome = 'waited';
  else if (result?.replayed) outcome = 'replayed';
  return {
    guarded,
    key,
    outcome,
    errorCode: refusal?.code,
    providerKey: mine.some((s) => Object.keys(s.setHeaders).length > 0 || s.body !== undefined),
    attempts: last?.attempt ?? 0,
    waitedMs,
  };

  /** A call that failed without telling its key: was it one oncely guards? */
  function guardedSafe(): boolean {
    try {
      return idem.isGuarded(request.method, request.url, opts);
    } catch {
      return true; // a guarded method with a URL that cannot be normalised
    }
  }
}

/**
 * Time between each `waiting` (or `coalesced`) event and the next event of another type — the
 * engine's next step once the twin finished — or the end of the call; summed over the waits.
 */
function waitTime(events: Seen[], end: number): number | undefined {
  let total: number | undefined;
  let since: number | undefined;
  for (const { event, at } of events) {
    if (event.type === 'waiting' || event.type === 'coalesced') {
      since ??= at;
      continue;
    }
    if (since !== undefined) {
      total = (total ?? 0) + (at - since);
      since = undefined;
    }
  }
  if (since !== undefined) total = (total ?? 0) + (end - since);
  return total;
}

/** The span attributes of a call; a pass-through gets only `oncely.guarded=false`. */
function attributesOf(seen: Observed): Attributes {
  if (!seen.guarded) return { [ATTRIBUTES.guarded]: false };
  const attributes: Attributes = {
    [ATTRIBUTES.guarded]: true,
    [ATTRIBUTES.providerKey]: seen.providerKey,
    [ATTRIBUTES.attempts]: seen.attempts,
  };
  if (seen.key !== undefined) attributes[ATTRIBUTES.keyHash] = seen.key.slice(seen.key.lastIndexOf(':') + 1);
  if (seen.outcome !== undefined) attributes[ATTRIBUTES.outcome] = seen.outcome;
  if (seen.errorCode !== undefined) attributes[ATTRIBUTES.errorCode] = seen.errorCode;
  return attributes;
}

function annotate(span: Span, seen: Observed, failure: { error: unknown } | undefined, own: boolean): void {
  span.setAttributes(attributesOf(seen));
  // Only oncely's own span gets a status: the caller's span is the caller's to judge. The status
  // message is the error's code or name, never its message (which may quote a transport's text).
  if (own && failure) {
    const error = failure.error;
    const name =
      seen.errorCode ??
      (error instanceof Error ? error.name : typeof error === 'object' ? 'Error' : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: name });
  }
}

/** Low-cardinality metric attributes: guarded, outcome and error code, never the key. */
function record(instruments: Instruments, seen: Observed, durationMs: number): void {
  const attributes: Attributes = { [ATTRIBUTES.guarded]: seen.guarded };
  if (seen.guarded && seen.outcome !== undefined) attributes[ATTRIBUTES.outcome] = seen.outcome;
  if (seen.guarded && seen.errorCode !== undefined) attributes[ATTRIBUTES.errorCode] = seen.errorCode;
  instruments.executeDuration.record(durationMs, attributes);
  if (!seen.guarded) return;
  if (seen.outcome === 'replayed' || seen.outcome === 'waited' || seen.outcome === 'coalesced') {
    instruments.replays.add(1, { [ATTRIBUTES.outcome]: seen.outcome });
  }
  if (seen.waitedMs !== undefined) {
    instruments.waits.add(1, attributes);
    instruments.waitDuration.record(seen.waitedMs, attributes);
  }
  if (seen.outcome === 'refused') {
    instruments.refusals.add(1, { [ATTRIBUTES.errorCode]: seen.errorCode! });
  }
}
