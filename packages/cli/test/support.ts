import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createIdempotency,
  type ExecuteOptions,
  type Idempotency,
  type IdempotencyRecord,
  type IdempotencyStore,
  type OutgoingRequest,
  type Send,
} from '@oncely/core';
import { type RedisStore, redisStore } from '@oncely/redis';
import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import { connectShared, deletePrefix, uniquePrefix } from '../../redis/test/support/shared-redis.js';
import { main, useStore } from '../src/index.js';

export { REDIS_URL } from '../../redis/test/support/shared-redis.js';

export const NAMESPACE = 'cli-test';
export const TARGET = 'https://api.example.test/v1/charges';

/** A real Redis store under a key prefix of its own (one per test file), and an engine on it. */
export interface Fixture {
  client: Redis;
  store: RedisStore;
  idem: Idempotency;
  prefix: string;
  /** `oncely …` in process against this store: exit code and what it wrote. */
  run(argv: string[], now?: () => number): Promise<RunResult>;
  /** The stored record as data, without the read-time `observedAt` (for "nothing changed" checks). */
  stored(key: string): Promise<Omit<IdempotencyRecord, 'observedAt'> | undefined>;
  /** A temp file (removed in `close`). */
  file(name: string, content: string): string;
  close(): Promise<void>;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function fixture(name: string, namespace = NAMESPACE): Promise<Fixture> {
  const client = await connectShared();
  const prefix = uniquePrefix(`cli-${name}`);
  const store = redisStore({ client, keyPrefix: prefix });
  const idem = createIdempotency({ store, namespace });
  const dir = mkdtempSync(join(tmpdir(), 'oncely-cli-'));
  return {
    client,
    store,
    idem,
    prefix,
    async run(argv, now) {
      const out = collector();
      const err = collector();
      const code = await main(argv, { stdout: out, stderr: err, openStore: useStore(store, now) });
      return { code, stdout: out.text, stderr: err.text };
    },
    async stored(key) {
      const record = await store.get(key);
      if (record) delete record.observedAt;
      return record;
    },
    file(fileName, content) {
      const path = join(dir, fileName);
      writeFileSync(path, content);
      return path;
    },
    async close() {
      await idem.close();
      await store.close();
      await deletePrefix(client, prefix);
      client.disconnect();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function collector(): { write(chunk: string): void; readonly text: string } {
  let text = '';
  return {
    write(chunk: string) {
      text += chunk;
    },
    get text() {
      return text;
    },
  };
}

export function charge(body: Record<string, unknown>, headers: Record<string, string> = {}): OutgoingRequest {
  return {
    method: 'POST',
    url: TARGET,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/** A fake provider: counts its calls, answers 201 with a JSON body. */
export function okSend(body = '{"id":"ch_1"}'): Send & { calls: number } {
  const send = Object.assign(
    async () => {
      send.calls++;
      return {
        status: 201,
        statusText: 'Created',
        headers: { 'content-type': 'application/json', 'x-request-id': 'req_1' },
        body: Buffer.from(body),
      };
    },
    { calls: 0 },
  );
  return send;
}

/** The connection dropped after the request may have reached the provider: the record becomes `unknown`. */
export const resetSend: Send = async () => {
  throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
};

/** A send that must not happen. */
export const neverSend: Send = async () => {
  throw new Error('nothing may be sent here');
};

/** Drives the engine to a `completed` record; returns its key. */
export async function completedRecord(
  f: Fixture,
  body: Record<string, unknown>,
  options: ExecuteOptions = {},
): Promise<string> {
  const result = await f.idem.execute(charge(body), okSend(), options);
  expect(result.replayed).toBe(false);
  return result.key!;
}

/** Drives the engine to an `unknown` record (ECONNRESET after sending); returns its key. */
export async function unknownRecord(
  f: Fixture,
  body: Record<string, unknown>,
  options: ExecuteOptions = {},
): Promise<string> {
  const key = f.idem.keyFor(charge(body), options)!.key;
  await expect(f.idem.execute(charge(body), resetSend, options)).rejects.toMatchObject({
    code: 'ECONNRESET',
  });
  expect((await f.store.get(key))?.status).toBe('unknown');
  return key;
}

/** An `in_flight` record through the store API; `leaseMs` short makes one whose owner "died". */
export async function inFlightRecord(
  f: { store: IdempotencyStore },
  leaseMs = 600_000,
  namespace = NAMESPACE,
): Promise<string> {
  const key = `${namespace}:${randomUUID().replaceAll('-', '')}`;
  const reserved = await f.store.reserve({
    key,
    scope: 'scope-hash',
    fingerprint: 'fp-1',
    method: 'POST',
    target: TARGET,
    owner: 'worker-7',
    leaseMs,
    ttlMs: 3_600_000,
  });
  expect(reserved.acquired).toBe(true);
  return key;
}

/** An `in_flight` record whose lease has expired (waited for through the store, not by sleeping). */
export async function leaseExpiredRecord(f: Fixture, namespace = NAMESPACE): Promise<string> {
  const key = await inFlightRecord(f, 30, namespace);
  const seen = await f.store.waitFor(key, 10_000);
  expect(seen?.status).toBe('in_flight');
  expect(seen!.leaseUntil!).toBeLessThanOrEqual(Date.now());
  return key;
}

export async function snapshot(f: Fixture, key: string): Promise<IdempotencyRecord | undefined> {
  return f.store.get(key);
}
