import { Agent } from 'node:http';
import { idempotency, oncely, oncelyErrorOf } from '@oncely/got';
import got, { type Got, RequestError } from 'got';
import type { ClientDriver, DriverClient, DriverOptions, NativeErrorShape } from '../driver.js';

/** got with statuses never thrown (the suite reads every status) and got's own retry for POST when asked. */
function build({ baseUrl, retries }: DriverOptions): { instance: Got; agent: Agent } {
  const agent = new Agent({ keepAlive: true });
  const instance = got.extend({
    prefixUrl: baseUrl,
    throwHttpErrors: false,
    agent: { http: agent },
    // Network errors and 5xx for every method, POST included: the case oncely must make safe.
    // A short backoff keeps the suite quick; the retry decision is got's own.
    retry: { limit: retries, methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], backoffLimit: 10, noise: 0 },
  });
  return { instance, agent };
}

function client({ instance, agent }: { instance: Got; agent: Agent }): DriverClient {
  return {
    async request(method, path, body, options = {}) {
      const { key, skip, override, headers } = options;
      const response = await instance(path.replace(/^\//, ''), {
        method: method as 'GET',
        json: body,
        headers,
        context: oncely({ key, skip, override }),
      });
      const isJson = String(response.headers['content-type']).includes('json');
      return {
        status: response.statusCode,
        body: isJson ? JSON.parse(response.body) : response.body,
        headers: Object.fromEntries(
          Object.entries(response.headers).map(([name, value]) => [name, String(value)]),
        ),
        replayed: response.isFromCache,
      };
    },
    async close() {
      agent.destroy();
    },
  };
}

export const gotDriver: ClientDriver = {
  name: 'got',
  create: (idem, options) => {
    const built = build(options);
    return client({ ...built, instance: built.instance.extend(idempotency(idem)) });
  },
  bare: (options) => client(build(options)),
};

/** A got `RequestError` whose `code` and `cause.code` both name the oncely code. */
export const gotErrors: NativeErrorShape = {
  isNative: (error) => error instanceof RequestError,
  oncelyCode(error) {
    if (!(error instanceof RequestError)) return undefined;
    const cause = oncelyErrorOf(error);
    return cause && error.code === cause.code ? cause.code : undefined;
  },
};
