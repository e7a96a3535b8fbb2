import { createIdempotency, memoryStore } from '@oncely/core';
import { idempotency } from '@oncely/undici';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_HEADERS, SECRET_HEADERS, sdkHeadersServer } from '../../../test/support/sdk-headers-server.js';
import { oncelyFetch } from '../src/oncely-fetch.js';

const provider = sdkHeadersServer();
beforeAll(provider.start);
afterAll(provider.close);

const READ: readonly string[] = READ_HEADERS;
const SECRET: readonly string[] = SECRET_HEADERS;
const idem = () => createIdempotency({ store: memoryStore() });

/** Every header of the live response is on the replay, with its value, except the secret ones. */
function expectKept(live: Record<string, unknown>, replay: Record<string, unknown>) {
  expect(replay['oncely-replayed']).toBe('true');
  for (const name of READ) {
    expect(replay[name], name).toBeDefined();
    expect(replay[name], name).toEqual(live[name]);
  }
  for (const name of SECRET) {
    expect(live[name], name).toBeDefined();
    expect(replay[name], name).toBeUndefined();
  }
  const lost = Object.keys(live).filter((name) => !SECRET.includes(name) && !(name in replay));
  expect(lost).toEqual([]);
}

describe('a replay keeps the headers an SDK reads', () => {
  it('oncelyFetch', async () => {
    const guarded = oncelyFetch(idem());
    const before = provider.writes;
    const post = () => guarded(`${provider.url}/v1/things`, { method: 'POST', body: '{"n":1}' });
    const live = await post();
    const replay = await post();
    expect(provider.writes - before).toBe(1);
    const plain = (headers: Headers) => {
      const out: Record<string, string> = {};
      headers.forEach((value, name) => {
        out[name] = value;
      });
      return out;
    };
    await Promise.all([live.text(), replay.text()]);
    expectKept(plain(live.headers), plain(replay.headers));
  });

  it('the interceptor, with undici.request', async () => {
    const dispatcher = new Agent().compose(idempotency(idem()));
    const before = provider.writes;
    const post = () => request(`${provider.url}/v1/things`, { method: 'POST', body: '{"n":2}', dispatcher });
    const live = await post();
    const replay = await post();
    await Promise.all([live.body.text(), replay.body.text()]);
    expect(provider.writes - before).toBe(1);
    expectKept(live.headers, replay.headers);
    await dispatcher.close();
  });
});
