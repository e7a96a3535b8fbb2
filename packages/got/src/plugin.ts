import { ConfigError, type Idempotency, type OutgoingRequest } from '@oncely/core';
import { isReusableBody, readKeyedBody } from '@oncely/core/plugin';
import type { BeforeRequestHook, NormalizedOptions } from 'got';
import { readExecuteOptions } from './context.js';
import { GuardedResponse } from './response.js';
import { type SendBody, sendAttempt } from './send.js';

export interface GotPluginOptions {
  /**
   * Largest one-shot body (stream, iterable, FormData) buffered for safe re-sends; a larger one is
   * sent once, unread, under its key. Default: core's `maxBodyBytes`.
   */
  maxBodyBytes?: number | undefined;
}

/**
 * What `idempotency()` returns: only the hook. Typed as got's whole `ExtendOptions`, it would
 * carry `responseType?` and `resolveBodyOnly?` into got 16's merged instance type, and
 * `got.extend(idempotency(idem)).post()` would resolve to `unknown` (TS18046).
 */
export interface GotExtension {
  hooks: { beforeRequest: BeforeRequestHook[] };
}

/**
 * got extend options that make guarded writes idempotent: `got.extend(idempotency(idem))`.
 *
 * One `beforeRequest` hook; got runs it once per attempt, its own retries included. For a
 * guarded request the hook runs the attempt through `idem.execute`, whose `send` performs the
 * network call with got (see `sendAttempt`), and returns the result as the response of this
 * attempt. Unguarded requests (GET, `skip`, …) are left untouched: the hook returns nothing.
 */
export function idempotency(idem: Idempotency, settings: GotPluginOptions = {}): GotExtension {
  const maxBodyBytes = settings.maxBodyBytes ?? idem.maxBodyBytes;

  const beforeRequest: BeforeRequestHook = async (options) => {
    const url = String(options.url);
    const executeOptions = readExecuteOptions(options.context, options.signal as AbortSignal | undefined);
    if (!idem.isGuarded(options.method, url, executeOptions)) return undefined;
    refuseLateStreamBody(options);
    const request: OutgoingRequest = {
      method: options.method,
      url,
      headers: options.headers,
      body: options.body,
    };
    const body = await readKeyedBody(idem, request, executeOptions, maxBodyBytes);
    // A one-shot body read is replaced by the buffer (over the cap: by the rest of it), so got's
    // own retries send the same bytes instead of failing on a consumed stream.
    if (!isReusableBody(request.body)) options.body = body.wire as NormalizedOptions['body'];
    const result = await idem.execute(
      { ...request, body: body.identity },
      (prepared) => sendAttempt(options, prepared, body.wire as SendBody),
      executeOptions,
    );
    // Core already set the `oncely-replayed` header on replays; `isFromCache` is got's own flag for it.
    return new GuardedResponse(result.response, url, result.replayed) as unknown as Awaited<
      ReturnType<BeforeRequestHook>
    >;
  };

  return { hooks: { beforeRequest: [beforeRequest] } };
}

/** `got.stream()` without a body option gets its body piped in after hooks have run: unseen, unsendable. */
function refuseLateStreamBody(options: NormalizedOptions): void {
  if (!options.isStream || options.body !== undefined) return;
  throw new ConfigError(
    'got.stream() writes its body after hooks run, so oncely can neither fingerprint nor re-send it. ' +
      'Pass the body as `body`/`json`/`form`, use the promise API, or set context.oncely.skip',
  );
}
