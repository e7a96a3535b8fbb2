import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createIdempotency, type OncelyEvent, type WireResponse } from '@oncely/core';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisStore, redisStore } from '../src/index.js';
import { buildForChildren } from './support/build.js';
import { connectShared, deletePrefix, REDIS_URL, uniquePrefix } from './support/shared-redis.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../../..');
const prefix = uniquePrefix('wakeup');

describe('cross-process wake-up over pub/sub', () => {
  let client: Redis;
  let store: RedisStore;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    // The child runs the built packages.
    await buildForChildren(root, ['core', 'redis']);
    client = await connectShared();
    store = redisStore({ client, keyPrefix: prefix });
  }, 120_000);

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill();
    await store.close();
    await deletePrefix(client, prefix);
    client.disconnect();
  });

  it('a child process waiting on a key is woken when this process completes it, and replays', async () => {
    const events: OncelyEvent[] = [];
    const idem = createIdempotency({ store, namespace: 'wake', onEvent: (event) => events.push(event) });
    let finish: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const body = '{"order":"wake-1"}';
    const holder = idem.execute(
      { method: 'POST', url: 'http://127.0.0.1/v1/charges', headers: {}, body },
      async () => {
        await gate;
        return { status: 201, headers: {}, body: Buffer.from('{"id":"from-parent"}') } satisfies WireResponse;
      },
    );
    await expect.poll(() => events.some((event) => event.type === 'sent')).toBe(true);

    child = spawn(process.execPath, [join(here, 'fixtures/waiter.mjs'), REDIS_URL, prefix, body], {
      cwd: join(here, '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const next = async () => JSON.parse(String((await lines.next()).value)) as Record<string, unknown>;

    expect(await next()).toEqual({ type: 'waiting' });
    const sendReturnedAt = Date.now();
    finish();
    await holder;
    const done = await next();
    expect(done).toMatchObject({ type: 'done', sends: 0, replayed: true, body: '{"id":"from-parent"}' });
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    // Includes the parent's complete round trip and the child's replay; same machine, same clock.
    console.log(`child replayed ${Number(done.at) - sendReturnedAt} ms after the parent's send returned`);
  });
});
