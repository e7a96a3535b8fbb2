import { Buffer } from 'node:buffer';
import type { PreparedRequest, WireResponse } from '@oncely/core';
import { editHeaderPairs, headerEdits, markNotSent } from '@oncely/core/plugin';
import got, { type Hooks, type NormalizedOptions, Options, type Response } from 'got';

/** The network attempt is the whole request: no hook may run twice, got's retry belongs to the outer call. */
const NO_HOOKS: Hooks = {
  init: [],
  beforeRequest: [],
  beforeRedirect: [],
  beforeCache: [],
  beforeError: [],
  beforeRetry: [],
  afterResponse: [],
};

/**
 * got 14 documents `got(url, undefined, options)` for requests from an `Options` instance
 * (documentation/2-options.md); its overload types leave the third argument out.
 */
const gotWithOptions = got as unknown as (
  url: URL,
  options: undefined,
  defaults: Options,
) => Promise<Response<Buffer>>;

/** What one attempt sends: bytes got can send again, or (over the buffering cap) the one-shot rest. */
export type SendBody = string | Uint8Array | AsyncIterable<Uint8Array> | undefined;

const DECODED_ENCODINGS = new Set(['gzip', 'deflate', 'br', 'zstd']);

/**
 * Performs ONE network attempt with got itself, from a copy of the caller's normalised options
 * (agents, timeouts, TLS, DNS and signal included), applying what core prepared. Redirects,
 * cookies, status errors and retries stay with the caller's got call, which sees this attempt's
 * response exactly once. Transport errors are got's own `RequestError`s, thrown as they are.
 */
export async function sendAttempt(
  options: NormalizedOptions,
  prepared: PreparedRequest,
  body: SendBody,
): Promise<WireResponse> {
  throwIfAborted(options.signal as AbortSignal | undefined);
  const attempt = attemptOptions(options, prepared, body);
  const response = await gotWithOptions(attempt.url as URL, undefined, attempt);
  return toWire(response, attempt.decompress);
}

/** A copy of the caller's options for one bare network attempt, with core's headers and body. */
function attemptOptions(options: NormalizedOptions, prepared: PreparedRequest, body: SendBody): Options {
  const attempt = new Options(undefined, undefined, options as unknown as Options);
  attempt.hooks = NO_HOOKS;
  attempt.retry = { ...options.retry, limit: 0, calculateDelay: () => 0 }; // a custom calculateDelay may ignore `limit`
  attempt.isStream = false;
  attempt.resolveBodyOnly = false;
  attempt.responseType = 'buffer';
  attempt.throwHttpErrors = false;
  attempt.followRedirect = false;
  attempt.cookieJar = undefined; // the caller's request already carries the cookies, and stores new ones
  attempt.cache = false;
  attempt.headers = Object.fromEntries(
    editHeaderPairs(Object.entries(options.headers), headerEdits(prepared)),
  );
  attempt.body = prepared.body ?? body;
  return attempt;
}

/** Aborted before this attempt started: nothing left the machine, so core may release the key. */
function throwIfAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  const error = new Error('The request was aborted before it was sent');
  throw markNotSent(Object.assign(error, { name: 'AbortError', code: 'ERR_ABORTED' }));
}

/** got hands back the decoded body; the headers must describe those bytes, not the compressed ones. */
function toWire(response: Response<Buffer>, decompressed: boolean): WireResponse {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined) headers[name] = value;
  }
  const encoding = String(headers['content-encoding'] ?? '').toLowerCase();
  if (decompressed && DECODED_ENCODINGS.has(encoding)) {
    delete headers['content-encoding'];
    headers['content-length'] = String(response.rawBody.byteLength);
  }
  return {
    status: response.statusCode,
    statusText: response.statusMessage,
    headers,
    body: response.rawBody ?? Buffer.alloc(0),
  };
}
