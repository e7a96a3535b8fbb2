import {
  type ExecuteOptions,
  type Idempotency,
  IdempotencyError,
  type PreparedRequest,
  type Send,
  type WireResponse,
} from '@oncely/core';
import { applyHeaderEdits, headerEdits, markNotSent, readRequestOptions } from '@oncely/core/plugin';
import {
  type AxiosAdapter,
  AxiosError,
  AxiosHeaders,
  type AxiosRequestConfig,
  type AxiosResponse,
  getAdapter,
  type InternalAxiosRequestConfig,
} from 'axios';
import { toAxiosError } from './errors.js';
import { toOutgoing } from './request.js';
import { type Refusals, settle, slackRefusal, toAxiosResponse, toWire } from './response.js';
import { abortedAs, callSignal } from './signal.js';

/** Marks our adapter so that installing twice (which would nest two guards) is refused. */
export const ONCELY_ADAPTER = Symbol.for('oncely.axios.adapter');

/**
 * axios codes the adapters raise while validating the request, before any socket is opened.
 * With neither `request` nor `response` on the error, the request never left: core may release the key.
 */
const PRE_SEND_CODES: ReadonlySet<string> = new Set([
  AxiosError.ERR_BAD_REQUEST,
  AxiosError.ERR_BAD_OPTION,
  AxiosError.ERR_BAD_OPTION_VALUE,
  AxiosError.ERR_NOT_SUPPORT,
  AxiosError.ERR_INVALID_URL,
]);

export interface AdapterDeps {
  idem: Idempotency;
  /** The adapter the instance had before (name, function or list), resolved per request like axios does. */
  original: AxiosRequestConfig['adapter'];
  /** Full URL of a config: baseURL + url + params, as axios builds it. */
  fullUrl(config: InternalAxiosRequestConfig): string;
  /** How a refusal reaches the caller (see `AxiosIdempotencyOptions`). */
  refusals: Refusals;
}

/**
 * Sits where axios calls its adapter, below request interceptors and below axios-retry (which
 * re-runs the whole chain): every attempt, first or retried, goes through core's state machine
 * with the already-serialised body, so it derives the same key.
 */
export function idempotentAdapter(deps: AdapterDeps): AxiosAdapter {
  const adapter: AxiosAdapter = async (config) => {
    const inner = getAdapter(deps.original, config);
    const method = (config.method ?? 'get').toUpperCase();
    let url: string | undefined;
    try {
      url = deps.fullUrl(config);
      const options: ExecuteOptions = readRequestOptions(config.oncely, 'oncely');
      if (!deps.idem.isGuarded(method, url, options)) return await inner(config);
      options.signal = callSignal(config);
      const sent = new WeakMap<WireResponse, AxiosResponse>();
      const send: Send = async (prepared) => {
        const response = await inner(attemptConfig(config, prepared)).catch((error: unknown) => {
          throw asAttemptError(error, config);
        });
        const wire = await toWire(response);
        sent.set(wire, response);
        return wire;
      };
      const result = await deps.idem.execute(toOutgoing(config, method, url), send, options);
      const call = { config, method, url };
      return settle(toAxiosResponse(result, call, sent.get(result.response)));
    } catch (error) {
      if (deps.refusals === 'slack' && url !== undefined && error instanceof IdempotencyError) {
        return settle(slackRefusal(error, { config, method, url }));
      }
      throw asAxiosError(error, config);
    }
  };
  return Object.assign(adapter, { [ONCELY_ADAPTER]: true });
}

/**
 * The config of one network attempt: the provider headers core prepared, its replacement body,
 * raw bytes back (`arraybuffer`) and every status resolved, so core sees each response as it is.
 * The caller's config is never mutated: axios-retry re-sends it, and it must not carry our headers.
 */
function attemptConfig(config: InternalAxiosRequestConfig, prepared: PreparedRequest) {
  const headers = new AxiosHeaders(config.headers);
  applyHeaderEdits(headers, headerEdits(prepared));
  const attempt = copyWithoutOncely(config);
  attempt.headers = headers;
  attempt.responseType = 'arraybuffer';
  attempt.validateStatus = null;
  if (prepared.body !== undefined) {
    attempt.data = typeof prepared.body === 'string' ? prepared.body : Buffer.from(prepared.body);
  }
  return attempt;
}

/**
 * `{ ...config }` without `oncely`, the same own enumerable keys in the same order. Not a spread:
 * axios' merged config has a null prototype, which V8 spreads on a slow path (~4.5 µs for its
 * 17 keys, against ~1 µs copied key by key), and `delete` would turn the copy the inner adapter
 * reads into a dictionary-mode object.
 */
function copyWithoutOncely(config: InternalAxiosRequestConfig): InternalAxiosRequestConfig {
  const source = config as unknown as Record<PropertyKey, unknown>;
  const copy: Record<PropertyKey, unknown> = {};
  for (const name of Object.keys(source)) if (name !== 'oncely') copy[name] = source[name];
  for (const symbol of Object.getOwnPropertySymbols(source)) {
    if (Object.prototype.propertyIsEnumerable.call(source, symbol)) copy[symbol] = source[symbol];
  }
  return copy as unknown as InternalAxiosRequestConfig;
}

/** The inner adapter's error, pointing at the caller's config again and marked when nothing was sent. */
function asAttemptError(error: unknown, config: InternalAxiosRequestConfig): unknown {
  if (!(error instanceof AxiosError)) return error;
  error.config = config;
  if (error.request === undefined && error.response === undefined && PRE_SEND_CODES.has(error.code ?? '')) {
    markNotSent(error);
  }
  return error;
}

/** Custom adapters must reject with an `AxiosError` (interceptors and axios-retry rely on it). */
function asAxiosError(error: unknown, config: InternalAxiosRequestConfig): unknown {
  if (error instanceof AxiosError) return error;
  if (error instanceof IdempotencyError) return toAxiosError(error, config);
  return abortedAs(error, config) ?? AxiosError.from(error, undefined, config);
}
