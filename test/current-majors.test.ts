import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createIdempotency } from '@oncely/core';
import { redisStore } from '@oncely/redis';
import { idempotency as undiciIdempotency } from '@oncely/undici';
import { Redis as Redis6 } from 'ioredis-6';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// undici 8 needs Node 22.19: it runs on the matrix's lines (pnpm test:matrix). got 15/16 are not
// here: @oncely/got performs the attempt with the got it resolves, so only an app with one got
// tests it — `pnpm test:packages` (scripts/pack-smoke.mjs) installs the tarballs with got 16.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const node2219 = major > 22 || (major === 22 && minor >= 19);

// The newest majors of each peer range (the suites run on the lowest ones the workspace pins):
// the plugins' guarded POST, twice, reaches the server once.

let server: Server;
let base: string;
let posts = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      posts++;
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: `r_${posts}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function counted<T>(run: () => Promise<T>) {
  return async () => {
    const before = posts;
    const first = await run();
    const second = await run();
    return { first, second, sent: posts - before };
  };
}

describe('current majors', () => {
  it.skipIf(!node2219)(
    'undici 8: an Agent composed with idempotency(idem), request twice → 1 request',
    async () => {
      const { Agent: Agent8, request: request8 } = (await import(
        'undici-8'
      )) as unknown as typeof import('undici');
      const agent = new Agent8().compose(undiciIdempotency(createIdempotency()));
      const post = async () => {
        const response = await request8(`${base}/v1/orders`, {
          method: 'POST',
          body: '{"ref":"o-2"}',
          headers: { 'content-type': 'application/json' },
          dispatcher: agent,
        });
        return (await response.body.json()) as { id: string };
      };
      const { first, second, sent } = await counted(post)();
      expect(sent).toBe(1);
      expect(second.id).toBe(first.id);
      await agent.close();
    },
  );

  it('ioredis 6: the Redis store reserves, completes and replays', async () => {
    const client = new Redis6(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    const store = redisStore({ client: client as never, keyPrefix: `majors-${process.pid}-${Date.now()}` });
    const idem = createIdempotency({ store });
    const send = async () => {
      posts++;
      return { status: 201, headers: {}, body: new TextEncoder().encode('{"id":"x"}') };
    };
    const request = { method: 'POST', url: `${base}/v1/orders`, headers: {}, body: '{"ref":"o-3"}' };
    const before = posts;
    await idem.execute(request, send);
    const again = await idem.execute(request, send);
    expect(again.replayed).toBe(true);
    expect(posts - before).toBe(1);
    await store.close?.();
    client.disconnect();
  });
});
