import type { WireResponse } from '@oncely/core';
import type { Dispatcher } from 'undici';

/** Replayed and live bodies are handed over in slices, so a paused consumer is honoured. */
const SLICE_BYTES = 64 * 1024;

/**
 * The controller the caller's handler gets for a guarded request. It outlives the network
 * attempts core makes: an abort from the caller reaches the attempt in flight (and core's wait),
 * pause/resume throttle the hand-over of the buffered response.
 */
export class ReplyController implements Dispatcher.DispatchController {
  rawHeaders: Buffer[] | null = null;
  rawTrailers: Buffer[] | null = null;
  /** Aborted when the caller aborts: stops core waiting for an in-flight twin. */
  readonly signal: AbortSignal;
  #abortSignal: AbortController;
  #reason: Error | null = null;
  #paused = false;
  #resumed: (() => void) | undefined;
  #attempt: Dispatcher.DispatchController | undefined;
  #finished = false;
  #live = false;

  constructor() {
    this.#abortSignal = new AbortController();
    this.signal = this.#abortSignal.signal;
  }

  get aborted(): boolean {
    return this.#reason !== null;
  }
  get paused(): boolean {
    return this.#paused;
  }
  get reason(): Error | null {
    return this.#reason;
  }

  abort(reason: Error): void {
    if (this.#reason) return;
    this.#reason = reason ?? new Error('The request was aborted');
    this.#abortSignal.abort(this.#reason);
    this.#attempt?.abort(this.#reason);
    this.#resumed?.();
  }
  pause(): void {
    this.#paused = true;
    if (this.#live) this.#attempt?.pause();
  }
  resume(): void {
    this.#paused = false;
    if (this.#live) this.#attempt?.resume();
    this.#resumed?.();
  }

  /** The live response is being handed over as it arrives (send.ts): pause and resume reach the attempt. */
  streamLive(rawHeaders: Buffer[]): void {
    this.#live = true;
    this.rawHeaders = rawHeaders;
  }
  /** Whether the caller already got the live response (then it is not replayed to it again). */
  get streamed(): boolean {
    return this.#live;
  }

  /** The network attempt now running, so a caller's abort reaches it. */
  attach(attempt: Dispatcher.DispatchController): void {
    this.#attempt = attempt;
    if (this.#reason) attempt.abort(this.#reason);
  }

  /** Resolves once the caller resumes (or aborts). */
  whenResumed(): Promise<void> {
    if (!this.#paused || this.#reason) return Promise.resolve();
    return new Promise((resolve) => {
      this.#resumed = () => {
        this.#resumed = undefined;
        resolve();
      };
    });
  }

  /** True exactly once: the caller gets one terminal callback (end or error). */
  finish(): boolean {
    if (this.#finished) return false;
    this.#finished = true;
    return true;
  }
}

/** Calls `onRequestStart`; false when the caller aborted or its handler threw (then it got the error). */
export function start(handler: Dispatcher.DispatchHandler, controller: ReplyController): boolean {
  try {
    handler.onRequestStart?.(controller, {});
  } catch (error) {
    fail(handler, controller, error);
    return false;
  }
  if (controller.aborted) fail(handler, controller, controller.reason);
  return !controller.aborted;
}

/**
 * Drives the caller's handler with a whole response, the way undici's cache interceptor replays:
 * `onResponseStart` → `onResponseData`… → `onResponseEnd`, no dispatch. A handler that throws
 * (undici's retry handler does, to ask for a retry) gets the error through `onResponseError`.
 */
export async function reply(
  handler: Dispatcher.DispatchHandler,
  controller: ReplyController,
  response: WireResponse,
): Promise<void> {
  if (controller.aborted) return fail(handler, controller, controller.reason);
  const body = Buffer.from(response.body.buffer, response.body.byteOffset, response.body.byteLength);
  controller.rawHeaders = rawHeadersOf(response.headers);
  try {
    handler.onResponseStart?.(controller, response.status, response.headers, response.statusText ?? '');
    for (let offset = 0; offset < body.byteLength; offset += SLICE_BYTES) {
      await controller.whenResumed();
      if (controller.aborted) break;
      handler.onResponseData?.(controller, body.subarray(offset, offset + SLICE_BYTES));
    }
    if (controller.aborted) return fail(handler, controller, controller.reason);
  } catch (error) {
    return fail(handler, controller, error);
  }
  if (!controller.finish()) return;
  try {
    handler.onResponseEnd?.(controller, {});
  } catch (error) {
    // Like undici's own request: a handler that throws on completion is told through onResponseError.
    report(handler, controller, error);
  }
}

/** Reports an error to the caller's handler once: the oncely error itself, or the transport error. */
export function fail(handler: Dispatcher.DispatchHandler, controller: ReplyController, error: unknown): void {
  // A caller who aborted hears its own reason, whatever the abort caused further down.
  if (controller.finish()) report(handler, controller, controller.reason ?? error);
}

function report(handler: Dispatcher.DispatchHandler, controller: ReplyController, error: unknown): void {
  handler.onResponseError?.(controller, error instanceof Error ? error : new Error(String(error)));
}

/** Headers as undici's raw pairs (`[name, value, name, value, …]`). */
export function rawHeadersOf(headers: Record<string, string | string[]>): Buffer[] {
  const raw: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    for (const item of Array.isArray(value) ? value : [value]) raw.push(Buffer.from(name), Buffer.from(item));
  }
  return raw;
}
