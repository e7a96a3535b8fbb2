import { stringify } from 'node:querystring';
import type { Idempotency, OutgoingRequest, PreparedRequest, Send } from '@oncely/core';
import { editHeaderPairs, headerEdits, type ReadBody } from '@oncely/core/plugin';
import type { Dispatcher } from 'undici';
import { isControlHeader, type OncelyRequestOptions, readControl } from './control.js';
import { type HeaderPairs, headerPairs, lowerCaseRecord, toRecord } from './headers.js';
import { rememberingReader } from './remembering-reader.js';
import { fail, ReplyController, reply, start } from './reply.js';
import { sendOnce } from './send.js';

export interface UndiciIdempotencyOptions {
  /**
   * Iterable and async-iterable request bodies (what fetch passes) are buffered up to this many
   * bytes so every attempt re-sends the same bytes; a larger one is sent once, unread, under its
   * key. Default: core's `maxBodyBytes`.
   */
  maxBodyBytes?: number | undefined;
}

type DispatchOptions = Dispatcher.DispatchOptions & { oncely?: unknown };

/** What oncely decided about one dispatch before anything is sent. */
type Plan =
  | { guarded: false; wireOptions: Dispatcher.DispatchOptions }
  | { guarded: true; url: string; headers: HeaderPairs; control: OncelyRequestOptions };

/**
 * An undici dispatcher interceptor that makes guarded writes idempotent.
 *
 * Compose it BEFORE (inside) a retry interceptor, so each retry attempt goes through the store:
 * `new Agent().compose(idempotency(idem), interceptors.retry({ methods: ['POST'] }))`.
 */
export function idempotency(
  idem: Idempotency,
  options: UndiciIdempotencyOptions = {},
): Dispatcher.DispatcherComposeInterceptor {
  const read = rememberingReader(options.maxBodyBytes ?? idem.maxBodyBytes);
  return (dispatch) =>
    // Exactly two declared parameters: undici 6 and 8 check `dispatch.length === 2`.
    function oncelyDispatch(opts: DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      let plan: Plan;
      try {
        plan = planFor(idem, opts);
      } catch (error) {
        queueMicrotask(() => refuse(handler, opts, error));
        return true;
      }
      if (!plan.guarded) return dispatch(plan.wireOptions, handler);
      void guard(idem, dispatch, opts, handler, plan, read);
      return true;
    };
}

function planFor(idem: Idempotency, opts: DispatchOptions): Plan {
  const pairs = headerPairs(opts.headers);
  const control = readControl(opts.oncely, pairs);
  const hasControlHeaders = pairs.some(([name]) => isControlHeader(name.toLowerCase()));
  const headers = hasControlHeaders ? pairs.filter(([name]) => !isControlHeader(name.toLowerCase())) : pairs;
  const url = urlOf(opts);
  if (idem.isGuarded(opts.method, url, control)) return { guarded: true, url, headers, control };
  // Unguarded requests go on untouched; only control data is taken off. Headers given as a
  // one-shot iterator were consumed by reading them, so they go on as the record read.
  const rebuildHeaders = hasControlHeaders || isIterator(opts.headers);
  if (!rebuildHeaders && opts.oncely === undefined) return { guarded: false, wireOptions: opts };
  const { oncely: _control, ...rest } = opts;
  return {
    guarded: false,
    wireOptions: rebuildHeaders ? { ...rest, headers: toRecord(headers) } : rest,
  };
}

function isIterator(value: unknown): boolean {
  return typeof (value as { next?: unknown } | null | undefined)?.next === 'function';
}

async function guard(
  idem: Idempotency,
  dispatch: Dispatcher.Dispatch,
  opts: DispatchOptions,
  handler: Dispatcher.DispatchHandler,
  plan: Extract<Plan, { guarded: true }>,
  read: ReturnType<typeof rememberingReader>,
): Promise<void> {
  const controller = new ReplyController();
  let sent = false;
  try {
    if (!start(handler, controller)) return;
    const body = await read(opts.body, handler);
    const request: OutgoingRequest = {
      method: opts.method,
      url: plan.url,
      headers: lowerCaseRecord(plan.headers),
      body: body.identity,
    };
    const send: Send = (prepared) => {
      sent = true;
      return sendOnce(dispatch, attemptOptions(opts, plan.headers, prepared, body), controller, handler);
    };
    const result = await idem.execute(request, send, { ...plan.control, signal: controller.signal });
    // A live event stream was handed over as it arrived (send.ts); anything else is handed over now.
    if (!(controller.streamed && !result.replayed)) await reply(handler, controller, result.response);
  } catch (error) {
    fail(handler, controller, error);
  } finally {
    if (!sent) discard(opts.body);
  }
}

/** One attempt's dispatch options: a copy (never the caller's object) with core's headers and body. */
function attemptOptions(
  opts: DispatchOptions,
  headers: HeaderPairs,
  prepared: PreparedRequest,
  body: ReadBody,
): Dispatcher.DispatchOptions {
  const { oncely: _control, ...rest } = opts;
  return {
    ...rest,
    headers: toRecord(editHeaderPairs(headers, headerEdits(prepared))),
    body: (prepared.body ?? body.wire) as Dispatcher.DispatchOptions['body'],
  };
}

/** The absolute URL undici will request: origin, path, and the `query` option it appends. */
function urlOf(opts: DispatchOptions): string {
  const path = opts.query ? withQuery(opts.path, opts.query) : opts.path;
  if (opts.origin === undefined) return path;
  // Concatenated, not resolved: undici sends `path` as is to `origin`, even one starting with `//`.
  let origin = String(opts.origin);
  try {
    origin = new URL(origin).origin;
  } catch {
    // Not a URL: core refuses it for guarded requests (KeyDerivationError), nothing is sent.
  }
  return `${origin}${path}`;
}

function withQuery(path: string, query: Record<string, unknown>): string {
  const text = stringify(query as Parameters<typeof stringify>[0]);
  return text ? `${path}?${text}` : path;
}

/** A request refused before anything was sent still gets the usual callbacks. */
function refuse(handler: Dispatcher.DispatchHandler, opts: DispatchOptions, error: unknown): void {
  const controller = new ReplyController();
  if (start(handler, controller)) fail(handler, controller, error);
  discard(opts.body);
}

/** A stream body that will never be sent is closed, as undici's cache interceptor does. */
function discard(body: unknown): void {
  const stream = body as { destroy?: () => void; on?: (event: string, listener: () => void) => void } | null;
  if (typeof stream?.destroy !== 'function' || typeof stream.on !== 'function') return;
  stream.on('error', () => {});
  stream.destroy();
}
