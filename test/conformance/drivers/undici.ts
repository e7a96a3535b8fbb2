import { IdempotencyError } from '@oncely/core';
import { idempotency, isReplayed, type OncelyRequestOptions, oncelyErrorOf } from '@oncely/undici';
import { Agent, type Dispatcher, errors, interceptors, request } from 'undici';
import type { ClientDriver, DriverClient, DriverOptions, NativeErrorShape } from '../driver.js';

/**
 * An undici Agent, with undici's retry interceptor for POST when asked. oncely is composed first,
 * so it sits inside the retry and every retry attempt goes through the store.
 */
function build({ retries }: DriverOptions, oncely?: Dispatcher.DispatcherComposeInterceptor): Dispatcher {
  const retry =
    retries > 0
      ? interceptors.retry({
          // Network errors and 5xx for every method, POST included: the case oncely must make safe.
          methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
          maxRetries: retries,
          minTimeout: 1,
          maxTimeout: 10,
        })
      : undefined;
  return new Agent().compose([oncely, retry].filter((layer) => layer !== undefined));
}

function client(dispatcher: Dispatcher, { baseUrl }: DriverOptions): DriverClient {
  return {
    async request(method, path, body, options = {}) {
      const { key, skip, override, headers = {} } = options;
      const oncely: OncelyRequestOptions = { key, skip, override };
      const hasOncely = Object.values(oncely).some((value) => value !== undefined);
      const response = await request(`${baseUrl}${path}`, {
        method: method as Dispatcher.HttpMethod,
        dispatcher,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        ...(hasOncely ? { oncely } : {}),
      });
      const text = await response.body.text();
      const isJson = String(response.headers['content-type']).includes('json');
      return {
        status: response.statusCode,
        body: isJson ? JSON.parse(text) : text,
        headers: Object.fromEntries(
          Object.entries(response.headers).map(([name, value]) => [name, String(value)]),
        ),
        replayed: isReplayed(response),
      };
    },
    close: () => dispatcher.close(),
  };
}

export const undiciDriver: ClientDriver = {
  name: 'undici',
  create: (idem, options) => client(build(options, idempotency(idem)), options),
  bare: (options) => client(build(options), options),
};

/**
 * undici has no single error type callers catch: `undici.request` rejects with undici's own errors
 * (`errors.UndiciError`, with a `code`) and with the oncely error itself, which carries its `code`.
 */
export const undiciErrors: NativeErrorShape = {
  isNative: (error) => error instanceof errors.UndiciError || error instanceof IdempotencyError,
  oncelyCode: (error) => oncelyErrorOf(error)?.code,
};
