import { Readable } from 'node:stream';
import { AxiosError, type AxiosResponse } from 'axios';
import { describe, expect, it } from 'vitest';
import { rejection, useFakeServer } from './harness.js';

/** A replay must be indistinguishable from a live response, except for its marker. */
describe('replayed responses look native', () => {
  const { server, client } = useFakeServer();

  async function liveThenReplay(config: Parameters<ReturnType<typeof client>['instance']['post']>[2] = {}) {
    const { instance } = client();
    const live = await instance.post('/plain/orders', { amount: 1 }, config);
    const replay = await instance.post('/plain/orders', { amount: 1 }, config);
    expect(server().writes()).toBe(1);
    return { live, replay };
  }

  it('JSON is parsed by axios itself; the marker is a header and response.oncely', async () => {
    const { live, replay } = await liveThenReplay();
    expect(replay.data).toEqual(live.data);
    expect(replay.status).toBe(201);
    expect(replay.statusText).toBe(live.statusText);
    expect(replay.headers['content-type']).toBe('application/json');
    expect(replay.headers['oncely-replayed']).toBe('true');
    expect(live.headers['oncely-replayed']).toBeUndefined();
    expect(live.oncely).toEqual({ replayed: false, key: expect.any(String) });
    expect(replay.oncely).toEqual({ replayed: true, key: live.oncely?.key });
    expect(replay.config.url).toBe('/plain/orders');
  });

  it("the instance's transformResponse and response interceptors run on replays too", async () => {
    const { instance } = client({
      transformResponse: [(data: string) => ({ wrapped: JSON.parse(data) as unknown })],
    });
    const seen: Array<boolean | undefined> = [];
    instance.interceptors.response.use((response: AxiosResponse) => {
      seen.push(response.oncely?.replayed);
      return response;
    });
    const live = await instance.post('/plain/orders', { amount: 2 });
    const replay = await instance.post('/plain/orders', { amount: 2 });
    expect(live.data).toMatchObject({ wrapped: { amount: 2 } });
    expect(replay.data).toEqual(live.data);
    expect(seen).toEqual([false, true]);
  });

  it.each([
    ['text', (data: unknown) => typeof data === 'string'],
    ['arraybuffer', (data: unknown) => Buffer.isBuffer(data)],
  ] as const)('responseType %s: same data type and content as live', async (responseType, isType) => {
    const { live, replay } = await liveThenReplay({ responseType });
    expect(isType(live.data)).toBe(true);
    expect(isType(replay.data)).toBe(true);
    expect(Buffer.from(replay.data as string).equals(Buffer.from(live.data as string))).toBe(true);
  });

  it('responseType stream: a readable stream with the same bytes', async () => {
    const { live, replay } = await liveThenReplay({ responseType: 'stream' });
    expect(replay.data).toBeInstanceOf(Readable);
    const read = async (stream: Readable) => Buffer.concat(await stream.toArray()).toString('utf8');
    expect(await read(replay.data as Readable)).toBe(await read(live.data as Readable));
  });

  it('validateStatus is honoured for live and replayed responses alike', async () => {
    const { instance } = client({ validateStatus: (status) => status === 200 });
    const live = await rejection(instance.post('/plain/orders', { amount: 3 }));
    const replay = await rejection(instance.post('/plain/orders', { amount: 3 }));
    for (const error of [live, replay]) {
      expect(error).toBeInstanceOf(AxiosError);
      const { code, response } = error as AxiosError;
      expect(code).toBe(AxiosError.ERR_BAD_RESPONSE);
      expect(response?.status).toBe(201);
      expect(response?.data).toMatchObject({ amount: 3 });
    }
    expect((replay as AxiosError).response?.oncely?.replayed).toBe(true);
    expect(server().writes()).toBe(1);
  });

  it("with axios' fetch adapter: same guarantees, replay parsed the same way", async () => {
    const { instance } = client({ adapter: 'fetch' });
    const live = await instance.post('/plain/orders', { amount: 5 });
    const replay = await instance.post('/plain/orders', { amount: 5 });
    expect(live.data).toMatchObject({ amount: 5 });
    expect(replay.data).toEqual(live.data);
    expect(replay.oncely?.replayed).toBe(true);
    expect(server().writes()).toBe(1);
  });

  it('50 concurrent posts on one instance: one write, every caller gets the parsed resource', async () => {
    const { instance } = client();
    server().inject('/plain/', { delayMs: 50 });
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => instance.post('/plain/orders', { amount: 4 })),
    );
    expect(server().writes()).toBe(1);
    expect(new Set(responses.map((r) => (r.data as { id: string }).id)).size).toBe(1);
    expect(responses.filter((r) => r.oncely?.replayed)).toHaveLength(49);
  });
});
