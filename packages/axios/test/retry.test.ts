import axiosRetry, { isNetworkError, isNetworkOrIdempotentRequestError, isRetryableError } from 'axios-retry';
import { describe, expect, it } from 'vitest';
import { oncelyErrorOf } from '../src/index.js';
import { rejection, useFakeServer } from './harness.js';

/**
 * axios-retry re-runs the whole request chain with the failed config (body already serialised);
 * oncely sits in the adapter, below it, so every retry passes through core again with the same key.
 */
describe('axios-retry on POST against a server that loses responses after committing', () => {
  const { server, client } = useFakeServer();

  function retrying() {
    const made = client();
    const retried: number[] = [];
    axiosRetry(made.instance, {
      retries: 3,
      retryCondition: (error) => isNetworkError(error) || isRetryableError(error),
      onRetry: (count) => {
        retried.push(count);
      },
    });
    return { ...made, retried };
  }

  it('native route, dropped response: the retry carries the same Idempotency-Key, one write', async () => {
    const { instance, retried } = retrying();
    server().inject('/native/', { dropAfterCommit: 1 });
    const response = await instance.post('/native/charges', { amount: 100 });
    expect(response.status).toBe(200);
    expect(response.data).toMatchObject({ object: 'charges', amount: 100 });
    expect(retried).toEqual([1]);
    expect(server().writes()).toBe(1);
    const keys = server()
      .requests()
      .map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
  });

  it('native route, 500 after commit: axios-retry retries the 5xx, the provider replays, one write', async () => {
    const { instance, retried } = retrying();
    server().inject('/native/', { error5xxAfterCommit: 1 });
    const response = await instance.post('/native/charges', { amount: 5 });
    expect(response.status).toBe(200);
    expect(response.headers['idempotent-replayed']).toBe('true');
    expect(retried).toEqual([1]);
    expect(server().writes()).toBe(1);
  });

  it('plain route, dropped response: every retry is refused with UnknownOutcomeError, one write', async () => {
    const { instance, retried } = retrying();
    server().inject('/plain/', { dropAfterCommit: 1 });
    const error = await rejection(instance.post('/plain/orders', { amount: 1, ref: 'x' }));
    expect(oncelyErrorOf(error)?.code).toBe('ONCELY_UNKNOWN_OUTCOME');
    // axios-retry sees an error without a response and retries it: harmless, nothing is sent.
    expect(retried).toEqual([1, 2, 3]);
    expect(server().writes()).toBe(1);
    expect(server().requests()).toHaveLength(1);
  });

  it('the README retryCondition stops at the first oncely refusal', async () => {
    const { instance } = client();
    const retried: number[] = [];
    axiosRetry(instance, {
      retries: 3,
      retryCondition: (error) => !oncelyErrorOf(error) && isNetworkOrIdempotentRequestError(error),
      onRetry: (count) => {
        retried.push(count);
      },
    });
    server().inject('/plain/', { dropAfterCommit: 1 });
    const error = await rejection(instance.post('/plain/orders', { amount: 1, ref: 'y' }));
    expect(oncelyErrorOf(error)?.code).toBe('ONCELY_UNKNOWN_OUTCOME');
    expect(retried).toEqual([1]);
    expect(server().writes()).toBe(1);
  });

  it('plain route with a reconcile hook: the retry finds the committed write', async () => {
    const { instance } = client(
      {},
      {
        routes: [
          {
            match: 'POST /plain/*',
            reconcile: async (ctx) => {
              const ref = (ctx.request.json as { ref: string }).ref;
              const found = await fetch(`${server().url}/plain/lookup?ref=${ref}`);
              return found.status === 200
                ? ctx.found({ status: 201, body: await found.json() })
                : ctx.absent();
            },
          },
        ],
      },
    );
    axiosRetry(instance, { retries: 2, retryCondition: isNetworkError });
    server().inject('/plain/', { dropAfterCommit: 1 });
    const response = await instance.post('/plain/orders', { amount: 1, ref: 'r-7' });
    expect(response.status).toBe(201);
    expect(response.oncely?.replayed).toBe(true);
    expect(response.data).toEqual(server().written()[0]?.resource);
    expect(server().writes()).toBe(1);
  });

  it('the config axios-retry re-sends never carries the headers oncely added for one attempt', async () => {
    const { instance } = client();
    server().inject('/native/', { dropAfterCommit: 1 });
    const error = await rejection(instance.post('/native/charges', { amount: 1 }));
    const { config } = error as { config: { headers: { get(name: string): unknown } } };
    expect(config.headers.get('idempotency-key')).toBeUndefined();
    expect(server().requests()[0]?.headers['idempotency-key']).toBeDefined();
  });
});
