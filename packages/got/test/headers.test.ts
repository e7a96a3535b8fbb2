import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_HEADERS, sdkHeadersServer } from '../../../test/support/sdk-headers-server.js';
import { setup } from './harness.js';

const provider = sdkHeadersServer();
beforeAll(provider.start);
afterAll(provider.close);

describe('got: a replay keeps the headers an SDK reads', () => {
  it('request-id, x-request-id, content-type… come back; the secret ones are dropped', async () => {
    const { client, close } = setup(provider.url);
    try {
      const live = await client.post('v1/things', { json: { n: 1 } });
      const replay = await client.post('v1/things', { json: { n: 1 } });
      expect(provider.writes).toBe(1);
      expect(replay.headers['oncely-replayed']).toBe('true');
      for (const name of READ_HEADERS) {
        expect(replay.headers[name], name).toBeDefined();
        expect(replay.headers[name], name).toEqual(live.headers[name]);
      }
      expect(live.headers['set-cookie']).toBeDefined();
      expect(replay.headers['set-cookie']).toBeUndefined();
      expect(replay.headers['x-auth-token']).toBeUndefined();
      const lost = Object.keys(live.headers).filter(
        (name) => !['set-cookie', 'x-auth-token'].includes(name) && !(name in replay.headers),
      );
      expect(lost).toEqual([]);
    } finally {
      close();
    }
  });
});
