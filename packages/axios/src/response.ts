import { STATUS_CODES } from 'node:http';
import { Readable } from 'node:stream';
import type { ExecuteResult, WireResponse } from '@oncely/core';
import { AxiosError, AxiosHeaders, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';

/** A live axios response (fetched with `responseType: 'arraybuffer'`) as core's wire response. */
export async function toWire(response: AxiosResponse): Promise<WireResponse> {
  return {
    status: response.status,
    statusText: response.statusText,
    headers: plainHeaders(response.headers),
    body: await bytesOf(response.data),
  };
}

/**
 * The axios response the caller gets, live or replayed alike: raw data shaped as the http adapter
 * would give it for the caller's `responseType`, so axios' own `transformResponse` parses it.
 */
export function toAxiosResponse(
  result: ExecuteResult,
  config: InternalAxiosRequestConfig,
  live: AxiosResponse | undefined,
): AxiosResponse {
  const { response } = result;
  return {
    data: dataFor(response.body, config),
    status: response.status,
    statusText: response.statusText ?? STATUS_CODES[response.status] ?? '',
    headers: new AxiosHeaders(response.headers),
    config,
    request: live?.request,
    oncely: { replayed: result.replayed, key: result.key },
  };
}

/** axios' `settle`: `validateStatus` decides between the response and an `AxiosError`. */
export function settle(response: AxiosResponse): AxiosResponse {
  const { status, config } = response;
  const { validateStatus } = config;
  if (!status || !validateStatus || validateStatus(status)) return response;
  const code = status >= 400 && status < 500 ? AxiosError.ERR_BAD_REQUEST : AxiosError.ERR_BAD_RESPONSE;
  throw new AxiosError(`Request failed with status code ${status}`, code, config, response.request, response);
}

/** Shapes of `data` per `responseType`, as the Node http adapter produces them. */
const DATA_SHAPES: Record<string, (bytes: Buffer, config: InternalAxiosRequestConfig) => unknown> = {
  arraybuffer: (bytes) => bytes,
  stream: (bytes) => Readable.from([bytes]),
  blob: (bytes) => new Blob([bytes]),
};

function dataFor(body: Uint8Array, config: InternalAxiosRequestConfig): unknown {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const shape = DATA_SHAPES[config.responseType ?? ''];
  if (shape) return shape(bytes, config);
  const encoding = (config.responseEncoding ?? 'utf8') as BufferEncoding;
  const text = bytes.toString(encoding);
  // The http adapter strips a UTF-8 byte order mark the same way.
  return encoding === 'utf8' && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

async function bytesOf(data: unknown): Promise<Uint8Array> {
  if (data === undefined || data === null) return new Uint8Array();
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (typeof data === 'string') return Buffer.from(data);
  if (data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
  if (typeof data === 'object' && Symbol.asyncIterator in data) {
    const chunks: Buffer[] = [];
    for await (const chunk of data as AsyncIterable<Uint8Array | string>) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks);
  }
  return Buffer.from(JSON.stringify(data));
}

function plainHeaders(headers: AxiosResponse['headers']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(AxiosHeaders.from(headers as AxiosHeaders).toJSON())) {
    if (value !== undefined && value !== null) out[name.toLowerCase()] = value;
  }
  return out;
}
