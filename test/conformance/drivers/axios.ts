import { Agent } from 'node:http';
import { oncelyErrorOf, withIdempotency } from '@oncely/axios';
import axios, { AxiosError, type AxiosInstance } from 'axios';
import axiosRetry, { isNetworkError, isRetryableError } from 'axios-retry';
import type { ClientDriver, DriverClient, DriverOptions, NativeErrorShape } from '../driver.js';

/** axios with statuses never thrown (the suite reads every status) and axios-retry for POST when asked. */
function build({ baseUrl, retries }: DriverOptions): { instance: AxiosInstance; agent: Agent } {
  const agent = new Agent({ keepAlive: true });
  const instance = axios.create({ baseURL: baseUrl, validateStatus: () => true, httpAgent: agent });
  if (retries > 0) {
    // Network errors and 5xx for every method, POST included: the case oncely must make safe.
    axiosRetry(instance, {
      retries,
      retryCondition: (error) => isNetworkError(error) || isRetryableError(error),
    });
  }
  return { instance, agent };
}

function client({ instance, agent }: { instance: AxiosInstance; agent: Agent }): DriverClient {
  return {
    async request(method, path, body, options = {}) {
      const { key, skip, override, headers } = options;
      const response = await instance.request({
        method,
        url: path,
        data: body,
        headers,
        oncely: { key, skip, override },
      });
      return {
        status: response.status,
        body: response.data,
        headers: Object.fromEntries(
          Object.entries(response.headers).map(([name, value]) => [name.toLowerCase(), String(value)]),
        ),
        replayed: response.oncely?.replayed ?? false,
      };
    },
    async close() {
      agent.destroy();
    },
  };
}

export const axiosDriver: ClientDriver = {
  name: 'axios',
  create: (idem, options) => {
    const built = build(options);
    withIdempotency(built.instance, idem);
    return client(built);
  },
  bare: (options) => client(build(options)),
};

/** `code`, `oncelyCode` and `cause.code` must all name the oncely code. */
export const axiosErrors: NativeErrorShape = {
  isNative: (error) => error instanceof AxiosError,
  oncelyCode(error) {
    if (!(error instanceof AxiosError)) return undefined;
    const cause = oncelyErrorOf(error);
    const agreed = cause && error.code === cause.code && error.oncelyCode === cause.code;
    return agreed ? cause.code : undefined;
  },
};
