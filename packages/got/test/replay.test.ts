import { memoryStore } from '@oncely/core';
import { HTTPError, type Response } from 'got';
import { describe, expect, it } from 'vitest';
import { isReplayed } from '../src/index.js';
import { rejection, useFakeServer } from './harness.js';

describe('replayed responses look like live ones', () => {
  const { server: fake, client } = useFakeServer();

  it('statusCode, headers, body, .json() and .text() match the live response; only the markers differ', async () => {
    const got = client();
    const live = await got.post('plain/orders', { json: { amount: 1 } });
    const replay = await got.post('plain/orders', { json: { amount: 1 } });
    expect(fake().writes()).toBe(1);
    expect(replay.statusCode).toBe(live.statusCode);
    expect(replay.statusMessage).toBe('Created');
    expect(replay.body).toBe(live.body);
    expect(replay.rawBody.equals(live.rawBody)).toBe(true);
    expect(replay.headers['content-type']).toBe(live.headers['content-type']);
    expect(replay.headers['request-id']).toBe(live.headers['request-id']);
    expect([live.isFromCache, replay.isFromCache]).toEqual([false, true]);
    expect([isReplayed(live), isReplayed(replay)]).toEqual([false, true]);
    expect(replay.headers['oncely-replayed']).toBe('true');
    expect(replay.ok).toBe(true);
    expect(replay.url).toBe(`${fake().url}/plain/orders`);

    const parsed = await got.post('plain/orders', { json: { amount: 1 } }).json<{ amount: number }>();
    expect(parsed).toEqual(JSON.parse(live.body));
    const text = await got.post('plain/orders', { json: { amount: 1 } }).text();
    expect(text).toBe(live.body);
    expect(fake().writes()).toBe(1);
  });

  it("responseType 'json' and resolveBodyOnly parse the replay like a live body", async () => {
    const got = client();
    const options = { json: { amount: 2 }, responseType: 'json', resolveBodyOnly: true } as const;
    const live = await got.post('plain/orders', options);
    const replay = await got.post('plain/orders', options);
    expect(replay).toEqual(live);
    expect(replay).toMatchObject({ amount: 2 });
  });

  it('afterResponse hooks run for live and replayed responses alike', async () => {
    const seen: Array<[number, boolean]> = [];
    const got = client({
      got: {
        hooks: {
          afterResponse: [
            (response: Response) => {
              seen.push([response.statusCode, response.isFromCache]);
              return response;
            },
          ],
        },
      },
    });
    await got.post('plain/orders', { json: { amount: 3 } });
    await got.post('plain/orders', { json: { amount: 3 } });
    expect(seen).toEqual([
      [201, false],
      [201, true],
    ]);
  });

  it('a replay after a new client on the same store sends nothing', async () => {
    const store = memoryStore();
    const first = await client({ idem: { store } }).post('native/charges', { json: { amount: 4 } });
    const again = await client({ idem: { store } }).post('native/charges', { json: { amount: 4 } });
    expect(again.isFromCache).toBe(true);
    expect(again.body).toBe(first.body);
    expect(fake().requests()).toHaveLength(1);
  });

  it('a non-2xx live response is thrown as got HTTPError, the same way as without oncely', async () => {
    const got = client();
    const error = await rejection(got.post('nowhere', { json: { amount: 5 } }));
    expect(error).toBeInstanceOf(HTTPError);
    expect((error as HTTPError).response.statusCode).toBe(404);
    expect((error as HTTPError).response.body).toBe('{"error":"no_route"}');
  });
});
