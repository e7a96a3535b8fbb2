import { ConfigError, type WireResponse } from '@oncely/core';
import type { Dispatcher } from 'undici';
import { type ReplyController, rawHeadersOf } from './reply.js';

/**
 * Raised when a network attempt is started a second time below oncely: something composed inside
 * it (undici's retry interceptor, a RetryAgent) re-sends on its own, without asking core whether
 * the first attempt may already have executed. The second attempt is stopped before it is written.
 */
export class InterceptorOrderError extends ConfigError {
  constructor() {
    super(
      'A retry below oncely tried to re-send a guarded request on its own. Compose oncely inside the retry ' +
        'so every attempt asks the store first: new Agent().compose(idempotency(idem), interceptors.retry(...)).',
    );
  }
}

/**
 * One network attempt through the inner dispatch, its response buffered whole for the record. A
 * successful event stream (`text/event-stream`, 2xx) is also handed to the caller's handler as it
 * arrives — a stream read whole before the first event would defeat streaming; it is recorded all
 * the same once it ends (and replays whole). Anything else reaches the caller only after core
 * decided what the response means.
 */
export function sendOnce(
  dispatch: Dispatcher.Dispatch,
  opts: Dispatcher.DispatchOptions,
  reply: ReplyController,
  caller: Dispatcher.DispatchHandler,
): Promise<WireResponse> {
  return new Promise((resolve, reject) => {
    const handler = new BufferingHandler(reply, caller, resolve, reject);
    try {
      dispatch(opts, handler);
    } catch (error) {
      reject(error);
    }
  });
}

class BufferingHandler implements Dispatcher.DispatchHandler {
  #starts = 0;
  #redirects = 0;
  #status = 0;
  #statusText: string | undefined;
  #headers: Record<string, string | string[]> = {};
  #chunks: Buffer[] = [];
  #live = false;

  constructor(
    private readonly reply: ReplyController,
    private readonly caller: Dispatcher.DispatchHandler,
    private readonly resolve: (response: WireResponse) => void,
    private readonly reject: (error: unknown) => void,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    // A redirect hop (redirect interceptor) is a new request and may start again; a retry may not.
    const redirects = redirectCount(context);
    if (this.#starts++ > 0 && redirects <= this.#redirects) {
      controller.abort(new InterceptorOrderError());
      return;
    }
    this.#redirects = redirects;
    this.reply.attach(controller);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    this.#status = statusCode;
    this.#statusText = statusMessage;
    this.#headers = definedHeaders(headers);
    this.#chunks = [];
    if (statusCode >= 200 && statusCode < 300 && isEventStream(this.#headers['content-type'])) {
      this.#live = true;
      this.reply.streamLive(rawHeadersOf(this.#headers));
      this.caller.onResponseStart?.(this.reply, statusCode, this.#headers, statusMessage ?? '');
    }
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#chunks.push(chunk);
    if (this.#live) this.caller.onResponseData?.(this.reply, chunk);
  }

  onResponseEnd(
    _controller: Dispatcher.DispatchController,
    trailers: Record<string, string | string[]>,
  ): void {
    if (this.#live && this.reply.finish()) this.caller.onResponseEnd?.(this.reply, trailers ?? {});
    this.resolve({
      status: this.#status,
      statusText: this.#statusText,
      headers: this.#headers,
      body: Buffer.concat(this.#chunks),
    });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.reject(error);
  }
}

function redirectCount(context: unknown): number {
  const history = (context as { history?: unknown } | undefined)?.history;
  return Array.isArray(history) ? history.length : 0;
}

function definedHeaders(headers: Record<string, string | string[] | undefined>) {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) out[name] = value;
  return out;
}

function isEventStream(contentType: string | string[] | undefined): boolean {
  const value = Array.isArray(contentType) ? contentType[0] : contentType;
  return value?.split(';')[0]?.trim().toLowerCase() === 'text/event-stream';
}
