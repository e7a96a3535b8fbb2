import type { Idempotency, OutgoingRequest, PreparedRequest, RequestBody, WireResponse } from '@oncely/core';
import { vi } from 'vitest';

export const SECRET = 'Bearer sk_live_very_secret_token';
export const COOKIE = 'session=super-secret-cookie';

export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): WireResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(JSON.stringify(body)),
  };
}

export function charge(
  body: unknown = { amount: 100, currency: 'eur' },
  over: Partial<OutgoingRequest> = {},
): OutgoingRequest {
  return {
    method: 'POST',
    url: 'https://api.example.com/v1/charges',
    headers: { 'content-type': 'application/json', authorization: SECRET },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    ...over,
  };
}

/** A `send` that answers with `respond` and records every prepared request it was given. */
export function fakeSend(
  respond: (prepared: PreparedRequest, call: number) => WireResponse | Promise<WireResponse>,
) {
  const calls: PreparedRequest[] = [];
  const send = vi.fn(async (prepared: PreparedRequest) => {
    calls.push(prepared);
    return respond(prepared, calls.length);
  });
  return Object.assign(send, { calls });
}

export const ok = () => fakeSend((_, n) => jsonResponse(200, { id: `ch_${n}` }));

/** A promise with its resolver outside: lets a test hold a call in flight and release it on cue. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export function errorWithCode(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

export const text = (response: WireResponse) => Buffer.from(response.body).toString('utf8');

export const URL_X = 'https://api.example.com/v1/x';
export const JSON_TYPE = { 'content-type': 'application/json' };
export const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' };

/** A POST of `body` (JSON by default) to `url`. */
export function post(
  body: RequestBody,
  headers: OutgoingRequest['headers'] = JSON_TYPE,
  url: string = URL_X,
): OutgoingRequest {
  return { method: 'POST', url, headers, body };
}

/** Sends `first` then `second` through `idem` with one counting send; returns it and both results. */
export async function sendTwice(idem: Idempotency, first: OutgoingRequest, second: OutgoingRequest) {
  const send = ok();
  const a = await idem.execute(first, send);
  const b = await idem.execute(second, send);
  return { send, a, b };
}
