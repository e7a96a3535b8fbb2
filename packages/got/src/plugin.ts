import { ConfigError, type ExecuteOptions, type Idempotency, type OutgoingRequest } from '@oncely/core';
import type { BeforeRequestHook, ExtendOptions, NormalizedOptions } from 'got';
import { asReusable, drain, ONE_SHOT_BODY, type ReusableBody } from './body.js';
import { readRequestOptions } from './context.js';
import { GuardedResponse } from './response.js';
import { sendAttempt } from './send.js';

export interface GotPluginOptions {
  /** Largest one-shot body (stream, iterable, FormData) buffered for safe re-sends. Default 4 MiB. */
  maxBodyBytes?: number | undefined;
}

const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * got extend options that make guarded writes idempotent: `got.extend(idempotency(idem))`.
 *
 * One `beforeRequest` hook; got runs it once per attempt, its own retries included. For a
 * guarded request the hook runs the attempt through `idem.execute`, whose `send` performs the
 * network call with got (see `sendAttempt`), and returns the result as the response of this
 * attempt. Unguarded requests (GET, `skip`, …) are left untouched: the hook returns nothing.
 */
export function idempotency(idem: Idempotency, settings: GotPluginOptions = {}): ExtendOptions {
  const maxBodyBytes = settings.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;

  const beforeRequest: BeforeRequestHook = async (options) => {
    const url = String(options.url);
    const executeOptions = readRequestOptions(options.context, options.signal as AbortSignal | undefined);
    if (!idem.isGuarded(options.method, url, executeOptions)) return undefined;
    refuseLateStreamBody(options);
    const request: OutgoingRequest = { method: options.method, url, headers: options.headers };
    const body = await reusableBody(idem, options, request, executeOptions, maxBodyBytes);
    const result = await idem.execute(
      { ...request, body: body.identity },
      (prepared) => sendAttempt(options, prepared, body.wire),
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

/**
 * The body as bytes got and core can both reuse: `wire` is sent, `identity` is fingerprinted. A
 * one-shot body is accepted only when the request has a key without it (explicit key or key
 * rule); it is then buffered and replaces the option, so got's own retries send the same bytes
 * instead of failing on a consumed stream.
 */
async function reusableBody(
  idem: Idempotency,
  options: NormalizedOptions,
  request: OutgoingRequest,
  executeOptions: ExecuteOptions,
  maxBodyBytes: number,
): Promise<{ wire: ReusableBody; identity: ReusableBody }> {
  const reusable = asReusable(options.body);
  if (reusable !== null) return { wire: reusable, identity: reusable };
  idem.keyFor({ ...request, body: ONE_SHOT_BODY }, executeOptions); // throws KeyDerivationError: nothing read, nothing sent
  const bytes = await drain(options.body, maxBodyBytes);
  options.body = bytes;
  // A multipart body's random boundary is core's to take out (canonical.ts cuts the body at its
  // delimiter lines, named by the content-type header core reads): the bytes are the identity.
  return { wire: bytes, identity: bytes };
}
