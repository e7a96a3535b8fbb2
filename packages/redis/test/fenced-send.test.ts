import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createIdempotency, type IdempotencyStore, type RouteRule } from '@oncely/core';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RedisStore, redisStore } from '../src/index.js';
import { fetchAttempt } from './fixtures/fetch-send.mjs';
import { buildForChildren } from './support/build.js';
import { connectShared, deletePrefix, REDIS_URL, uniquePrefix } from './support/shared-redis.js';

/**
 * The fence at the provider, across real processes on real Redis: process A (a child) is slowed
 * or blocked at an exact point through its store; process B (this one) acts meanwhile. The
 * provider is this process's HTTP server, which counts the writes that reach it.
 */

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../../..');

let client: Redis;
let server: Server;
let serverUrl: string;
let writes = 0;
const children: ChildProcess[] = [];

beforeAll(async () => {
  await buildForChildren(root, ['core', 'redis']);
  client = await connectShared();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      writes++;
      res.writeHead(201, { 'content-type': 'application/json', 'request-id': `req_${writes}` });
      res.end(JSON.stringify({ id: `ch_${writes}`, received: body.length }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterEach(() => {
  writes = 0;
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill();
  server?.close();
  client?.disconnect();
});

/** Process A: the fixture, with its JSON lines as an async iterator. */
function processA(prefix: string, mode: 'block' | 'slow', route: RouteRule) {
  const child = spawn(
    process.execPath,
    [join(here, 'fixtures/fenced-sender.mjs'), REDIS_URL, prefix, serverUrl, mode, JSON.stringify(route)],
    { cwd: join(here, '..'), stdio: ['pipe', 'pipe', 'inherit'] },
  );
  children.push(child);
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return {
    async next(): Promise<Record<string, unknown>> {
      const { value, done } = await lines.next();
      if (done) throw new Error('process A ended early');
      return JSON.parse(String(value)) as Record<string, unknown>;
    },
    release: () => child.stdin!.write('\n'),
  };
}

/** Process B: this process, on its own store over the same Redis. */
function processB(prefix: string, route: RouteRule, over: Partial<IdempotencyStore> = {}) {
  const inner: RedisStore = redisStore({ client, keyPrefix: prefix });
  const store = Object.assign(Object.create(inner) as IdempotencyStore, over);
  const idem = createIdempotency({
    store,
    namespace: 'fenced',
    lease: 300,
    reconcileGrace: 0,
    routes: [route],
  });
  const request = {
    method: 'POST',
    url: `${serverUrl}/v1/charges`,
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk_test_fenced' },
    body: '{"amount":4200,"order":"fenced-1"}',
  };
  const execute = () => idem.execute(request, (prepared) => fetchAttempt(request, prepared));
  return { inner, execute, close: () => inner.close() };
}

describe('fenced sends across processes (real Redis)', () => {
  it("A's event loop is blocked past its lease right after reserving; B takes over and writes: A does not write", async () => {
    const prefix = uniquePrefix('fenced-block');
    // B decides A's unknown outcome with a lookup that finds nothing, so B writes.
    const route: RouteRule = { match: 'POST /v1/charges' };
    const a = processA(prefix, 'block', route);
    expect(await a.next()).toEqual({ type: 'reserved', acquired: true });

    const b = processB(prefix, { ...route, reconcile: (ctx) => ctx.absent() });
    try {
      const written = await b.execute();
      expect(written.replayed).toBe(false);
      expect(writes).toBe(1);

      a.release(); // A's loop unblocks, long after its lease ran out
      expect(await a.next()).toEqual({ type: 'lease-lost' });
      expect(await a.next()).toEqual({ type: 'send-withheld' });
      // A looks at the key again: B's completed record, replayed.
      expect(await a.next()).toEqual({ type: 'reserved', acquired: false });
      const done = await a.next();
      expect(done).toMatchObject({ type: 'done', replayed: true });
      expect(JSON.parse(String(done.body))).toEqual(
        JSON.parse(Buffer.from(written.response.body).toString()),
      );
      expect(writes).toBe(1);
    } finally {
      await b.close();
      await deletePrefix(client, prefix);
    }
  });

  it("A completes between B reading its expired lease and B's takeOver: B replays A's response (preset route)", async () => {
    const prefix = uniquePrefix('fenced-stale');
    const route: RouteRule = { match: 'POST /v1/charges', provider: 'stripe' };
    const a = processA(prefix, 'slow', route);
    expect(await a.next()).toEqual({ type: 'sending' });

    let aDone: Record<string, unknown> | undefined;
    const b = processB(prefix, route, {
      async takeOver(key, input) {
        a.release(); // A's send goes out and A records it before B's takeOver lands
        aDone = await a.next();
        return b.inner.takeOver(key, input);
      },
    });
    try {
      const result = await b.execute();
      expect(aDone).toMatchObject({ type: 'done', replayed: false });
      expect(result.replayed).toBe(true);
      expect(JSON.parse(Buffer.from(result.response.body).toString())).toEqual(
        JSON.parse(String(aDone!.body)),
      );
      expect(writes).toBe(1);
    } finally {
      await b.close();
      await deletePrefix(client, prefix);
    }
  });
});
