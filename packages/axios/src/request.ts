import type { OutgoingRequest, RequestBody, RequestHeaders } from '@oncely/core';
import type { InternalAxiosRequestConfig } from 'axios';

/**
 * The neutral request core derives the key from, read in the adapter: `data` has been through
 * `transformRequest` (a JSON string, form string, Buffer…), so axios-retry's already-serialised
 * retries derive the same key as the first attempt.
 */
export function toOutgoing(config: InternalAxiosRequestConfig, method: string, url: string): OutgoingRequest {
  return { method, url, headers: scopeHeaders(config), body: config.data as RequestBody };
}

/**
 * The headers as sent, plus the `auth` option as the Authorization header the adapter will send:
 * core hashes credentials into the key scope, so two basic-auth users never share a key.
 */
function scopeHeaders(config: InternalAxiosRequestConfig): RequestHeaders {
  const headers: RequestHeaders = {};
  // Values may be numbers or booleans at run time, whatever axios' types say.
  const raw: Record<string, unknown> = config.headers.toJSON();
  // for-in, not Object.entries (half the cost, ~1 µs less a call): same own keys, same order.
  for (const name in raw) {
    if (!Object.hasOwn(raw, name)) continue;
    const value = raw[name];
    if (typeof value === 'string' || typeof value === 'number' || Array.isArray(value)) {
      headers[name.toLowerCase()] = value as string | number | string[];
    }
  }
  const { auth } = config;
  if (auth && headers.authorization === undefined) {
    const basic = Buffer.from(`${auth.username ?? ''}:${auth.password ?? ''}`).toString('base64');
    headers.authorization = `Basic ${basic}`;
  }
  return headers;
}
