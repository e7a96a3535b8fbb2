import type { Idempotency, IdempotencyError } from '@oncely/core';
import { findOncelyError, refusalResponse } from '@oncely/core/plugin';
import { Agent, type Dispatcher, fetch as undiciFetch } from 'undici';
import { idempotency, type UndiciIdempotencyOptions } from './interceptor.js';

export interface OncelyFetchOptions extends UndiciIdempotencyOptions {
  /** The dispatcher to compose onto (an undici `Agent`, `Pool`, `ProxyAgent`). Default: a new `Agent()`. */
  dispatcher?: Dispatcher | undefined;
  /**
   * How a refusal (`ONCELY_UNKNOWN_OUTCOME`, `ONCELY_PAYLOAD_MISMATCH`, `ONCELY_IN_FLIGHT_TIMEOUT`, `ONCELY_STORE_UNAVAILABLE`,
   * …) reaches the SDK. `'response'` (default): a synthetic `422` the SDKs' retry logic treats as
   * final (`x-should-retry: false`, `stripe-should-retry: false`; octokit and Slack do not retry
   * a 422), so a refusal is not retried as if it were a network error. `'slack'`: Slack's own
   * form, `200 { ok: false, error: 'oncely_<code>' }` — @slack/web-api retries every non-200
   * (and every thrown error) for up to 30 minutes, but never an `ok: false`. `'throw'`: fetch
   * rejects with `TypeError('fetch failed')` whose `cause` is the oncely error, as undici's does.
   */
  refusals?: 'response' | 'slack' | 'throw' | undefined;
}

export { REFUSAL_HEADER } from '@oncely/core/plugin';

/**
 * A `fetch` that makes guarded writes idempotent, typed exactly as the global `fetch`, for SDKs
 * that take one: `Stripe.createFetchHttpClient(oncelyFetch(idem))`, `new OpenAI({ fetch })`,
 * `new Octokit({ request: { fetch } })`, `new WebClient(token, { fetch })`, `ky.create({ fetch })`.
 *
 * It runs on the undici you installed (the peer dependency), never on the copy bundled with Node:
 * the two differ by version, and an interceptor written for one fails inside the other's fetch
 * (undici 8 Agents given to Node 24's global fetch fail with `invalid onRequestStart method`).
 * What the global classes build — a `Request` as input, a `FormData` body (file uploads) — is
 * turned into what that undici's fetch reads.
 */
export function oncelyFetch(idem: Idempotency, options: OncelyFetchOptions = {}): typeof fetch {
  const { dispatcher = new Agent(), refusals = 'response', ...interceptorOptions } = options;
  const composed = dispatcher.compose(idempotency(idem, interceptorOptions));
  const guardedFetch = async (input: unknown, init?: RequestInit): Promise<Response> => {
    const call = await toUndiciCall(input, init);
    try {
      return (await undiciFetch(call.url, {
        ...call.init,
        dispatcher: composed,
      } as never)) as unknown as Response;
    } catch (error) {
      const refusal = refusals === 'throw' ? undefined : findOncelyError(error);
      if (!refusal) throw error;
      return refusalAsFetch(refusal, refusals === 'slack' ? 'slack' : 'response');
    }
  };
  // openai probes `fetch.Response` with the global FormData to see whether uploads work.
  return Object.assign(guardedFetch, { Response: globalThis.Response }) as unknown as typeof fetch;
}

/** The kit's refusal as a fetch `Response`. */
function refusalAsFetch(error: IdempotencyError, form: 'response' | 'slack'): Response {
  const { status, headers, body } = refusalResponse(error, form);
  return new globalThis.Response(body, { status, headers: headers as Record<string, string> });
}

type UndiciCall = { url: string; init: Record<string, unknown> };

/** A global `Request` input or a global `FormData` body, as plain parts undici's fetch reads. */
async function toUndiciCall(input: unknown, init: RequestInit | undefined): Promise<UndiciCall> {
  let url: string;
  let fields: Record<string, unknown> = {};
  if (typeof input === 'string') url = input;
  else if (input instanceof URL) url = input.href;
  else if (input && typeof input === 'object' && 'url' in input && typeof input.url === 'string') {
    const request = input as Request;
    url = request.url;
    fields = {
      method: request.method,
      headers: [...request.headers],
      signal: request.signal,
      ...(request.body ? { body: request.body, duplex: 'half' } : {}),
    };
  } else url = String(input);
  const merged: Record<string, unknown> = { ...fields, ...init };
  if (merged.body instanceof globalThis.FormData) {
    // The global FormData is another undici's class: serialise it with the global Response.
    const encoded = new globalThis.Response(merged.body);
    const headers = new globalThis.Headers(merged.headers as ConstructorParameters<typeof Headers>[0]);
    headers.set('content-type', encoded.headers.get('content-type')!);
    merged.headers = [...headers];
    merged.body = new Uint8Array(await encoded.arrayBuffer());
  } else if (merged.headers instanceof globalThis.Headers) {
    merged.headers = [...merged.headers];
  }
  return { url, init: merged };
}
