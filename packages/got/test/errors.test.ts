import {
  ConfigError,
  type IdempotencyStore,
  memoryStore,
  type OncelyEvent,
  PayloadMismatchError,
  StoreUnavailableError,
} from '@oncely/core';
import { RequestError } from 'got';
import { describe, expect, it } from 'vitest';
import { oncely, oncelyErrorOf } from '../src/index.js';
import { POST_RETRY, rejection, useFakeServer } from './harness.js';

/** Every oncely refusal reaches the caller as got's own RequestError: `code` and `cause` name it. */
describe('oncely errors as got errors', () => {
  const { server: fake, client } = useFakeServer();

  it('payload mismatch: RequestError with the oncely code, the oncely error as cause, nothing sent', async () => {
    const seenByHooks: string[] = [];
    const got = client({
      got: {
        ...POST_RETRY,
        hooks: {
          beforeError: [
            (error) => {
              seenByHooks.push(error.code);
              return error;
            },
          ],
        },
      },
    });
    await got.post('plain/orders', { json: { amount: 1 }, context: oncely({ key: 'order-1' }) });
    const error = await rejection(
      got.post('plain/orders', { json: { amount: 2 }, context: oncely({ key: 'order-1' }) }),
    );
    expect(error).toBeInstanceOf(RequestError);
    const requestError = error as RequestError;
    expect(requestError.code).toBe('ONCELY_PAYLOAD_MISMATCH');
    expect(requestError.cause).toBeInstanceOf(PayloadMismatchError);
    expect(oncelyErrorOf(error)).toBe(requestError.cause);
    expect(requestError.options.method).toBe('POST');
    expect(requestError.response).toBeUndefined();
    expect(seenByHooks).toEqual(['ONCELY_PAYLOAD_MISMATCH']);
    expect(fake().requests()).toHaveLength(1);
  });

  it('the provider refusing a key keeps its message on the oncely error', async () => {
    await client().post('native/charges', { json: { amount: 1 }, context: oncely({ key: 'k-9' }) });
    const fresh = client(); // its store never saw the key: the provider detects the mismatch
    const error = await rejection(
      fresh.post('native/charges', { json: { amount: 2 }, context: oncely({ key: 'k-9' }) }),
    );
    const cause = oncelyErrorOf(error) as PayloadMismatchError;
    expect((error as RequestError).code).toBe('ONCELY_PAYLOAD_MISMATCH');
    expect(cause.providerMessage).toContain('same parameters');
  });

  it('the provider keeping the key in use past wait.timeout: ONCELY_IN_FLIGHT_TIMEOUT, got does not retry it', async () => {
    fake().inject('/native/', { inUseForever: true });
    const got = client({ idem: { wait: { timeout: '100ms' } }, got: POST_RETRY });
    const error = await rejection(got.post('native/charges', { json: { amount: 3 } }));
    expect((error as RequestError).code).toBe('ONCELY_IN_FLIGHT_TIMEOUT');
    expect(fake().requests()).toHaveLength(1);
  });

  it('store down (fail closed): ONCELY_STORE_UNAVAILABLE, nothing sent', async () => {
    const store: IdempotencyStore = {
      ...memoryStore(),
      reserve: () => Promise.reject(new Error('connection refused')),
    };
    const error = await rejection(client({ idem: { store } }).post('plain/orders', { json: { amount: 4 } }));
    expect((error as RequestError).code).toBe('ONCELY_STORE_UNAVAILABLE');
    expect((error as RequestError).cause).toBeInstanceOf(StoreUnavailableError);
    expect(fake().requests()).toHaveLength(0);
  });

  it.each([
    ['not an object', 'skip-me'],
    ['skip not a boolean', { skip: 'yes' }],
    ['key not a string', { key: 42 }],
    ['override without a reviewer', { override: { reason: 'typo fix' } }],
  ])('malformed context.oncely (%s): ONCELY_CONFIG, nothing sent', async (_, value) => {
    const error = await rejection(
      client().post('plain/orders', { json: { amount: 5 }, context: { oncely: value } }),
    );
    expect((error as RequestError).code).toBe('ONCELY_CONFIG');
    expect((error as RequestError).cause).toBeInstanceOf(ConfigError);
    expect(fake().requests()).toHaveLength(0);
  });

  it('aborted after the key was reserved but before sending: the key is released, not left unknown', async () => {
    const controller = new AbortController();
    const inner = memoryStore();
    // The caller aborts while oncely is reserving: the attempt must not start.
    const store: IdempotencyStore = {
      ...inner,
      reserve: async (input) => {
        controller.abort();
        return inner.reserve(input);
      },
    };
    // How the attempt was settled in the store: released (nothing sent) or unknown (maybe sent).
    let settled!: (type: string) => void;
    const settlement = new Promise<string>((resolve) => {
      settled = resolve;
    });
    const onEvent = (event: OncelyEvent) => {
      if (event.type === 'released' || event.type === 'unknown') settled(event.type);
    };
    const got = client({ idem: { store, onEvent } });
    const error = await rejection(
      got.post('plain/orders', {
        json: { amount: 7 },
        signal: controller.signal,
        context: oncely({ key: 'a-1' }),
      }),
    );
    expect((error as RequestError).code).toBe('ERR_ABORTED');
    expect(await settlement).toBe('released');
    const records = [];
    for await (const record of inner.list()) records.push(record);
    expect(records).toEqual([]);
    expect(fake().requests()).toHaveLength(0);
  });

  it('a transport error stays got’s own error with its own code', async () => {
    const got = client();
    fake().inject('/plain/', { dropAfterCommit: 1 });
    const error = await rejection(got.post('plain/orders', { json: { amount: 6 } }));
    expect(error).toBeInstanceOf(RequestError);
    expect((error as RequestError).code).toBe('ECONNRESET');
    expect(oncelyErrorOf(error)).toBeUndefined();
  });
});
