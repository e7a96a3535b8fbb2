import type { IdempotencyStore } from '@oncely/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../../redis/test/support/redis-server.js';
import { type MainOptions, main, type OpenedStore, openRedisStore, useStore } from '../src/index.js';
import { collector, inFlightRecord } from './support.js';

/** A redis-server this file owns, so it can stop it. */
let server: RedisServer;
let opened: OpenedStore;
let key: string;

async function run(argv: string[], openStore: MainOptions['openStore'] = useStore(opened.store, opened.now)) {
  const stdout = collector();
  const stderr = collector();
  const code = await main(argv, { stdout, stderr, openStore, env: {} });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

beforeAll(async () => {
  server = await startRedis();
  opened = await openRedisStore({ redisUrl: server.url, keyPrefix: 'cli-down:' });
  key = await inFlightRecord(opened);
});

afterAll(async () => {
  await opened?.close();
  await server?.destroy();
});

describe('store unavailable: exit 3', () => {
  it('opens the store from --redis-url and reads the store clock', async () => {
    const { code, stdout } = await run(
      ['inspect', key, '--redis-url', server.url, '--key-prefix', 'cli-down:'],
      openRedisStore,
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/^status\s+in_flight$/m);
    expect(Math.abs(opened.now() - Date.now())).toBeLessThan(60_000);
  });

  it('a bad --redis-url or --key-prefix is a usage error', async () => {
    const bad = await run(['list', '--redis-url', 'http://127.0.0.1:6379'], openRedisStore);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--redis-url must start with redis:// or rediss://');
    const braces = await run(['list', '--redis-url', server.url, '--key-prefix', 'a{b}'], openRedisStore);
    expect(braces.code).toBe(1);
    expect(braces.stderr).toContain("keyPrefix 'a{b}' must not contain '{' or '}'");
  });

  it('a write the store fails during: exit 3, saying the change may or may not have been made', async () => {
    // The real store, whose server goes away between the state check (get) and the write.
    const store: IdempotencyStore = {
      ...opened.store,
      async grantOverride(...args) {
        await server.stop();
        return opened.store.grantOverride(...args);
      },
    };
    const { code, stdout, stderr } = await run(
      ['override', key, '--reason', 'r', '--reviewer', 'alice'],
      useStore(store, opened.now),
    );
    expect(code).toBe(3);
    expect(stdout).toBe('');
    expect(stderr).toMatch(
      new RegExp(
        `the store failed during the write \\(.+\\): the change may or may not have been made\\. Run oncely inspect ${key}`,
      ),
    );
  });

  it('every command fails with exit 3 once the server is gone, nothing changed', async () => {
    expect(server.running).toBe(false);
    const who = ['--reason', 'r', '--reviewer', 'alice'];
    for (const argv of [
      ['list', '--status', 'unknown'],
      ['inspect', key],
      ['resolve', key, '--as', 'absent', ...who],
      ['override', key, ...who],
      ['purge', '--expired'],
    ]) {
      const { code, stdout, stderr } = await run(argv);
      expect({ argv, code }).toEqual({ argv, code: 3 });
      expect(stdout).toBe('');
      expect(stderr).toMatch(/^oncely \w+: the store is unavailable \(.+\)\. Nothing was changed\.\n$/);
    }
    const connect = await run(['list', '--redis-url', server.url], openRedisStore);
    expect(connect.code).toBe(3);
    expect(connect.stderr).toContain(`cannot reach Redis at ${server.url}`);
  });
});
