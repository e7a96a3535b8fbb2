import {
  createIdempotency,
  type Idempotency,
  type OncelyEvent,
  type PreparedRequest,
  StoreUnavailableError,
  UnknownOutcomeError,
  type WireResponse,
} from '@oncely/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisStore, redisStore, type StoreEvent, StoreResetError } from '../src/index.js';
import { type RedisServer, startRedis } from './support/redis-server.js';

/**
 * Redis loses what it had (restart without persistence, FLUSHALL, a restart from an older
 * snapshot) under a live store: the next run of an operation must not be sent. Real redis-servers,
 * restarted on the same port.
 */
const WINDOW_MS = 400;

let server: RedisServer;
let client: Redis;
const stores: RedisStore[] = [];

beforeAll(async () => {
  server = await startRedis({ args: ['--save', '', '--appendonly', 'no'] });
  client = new Redis(server.url, { retryStrategy: () => 50 });
  client.on('error', () => undefined); // expected while the server restarts
});

afterAll(async () => {
  for (const store of stores) await store.close();
  client.disconnect();
  await server.destroy();
});

function storeFor(prefix: string, options: Partial<Parameters<typeof redisStore>[0]> = {}) {
  const store = redisStore({ client, keyPrefix: prefix, resetWindow: WINDOW_MS, ...options });
  stores.push(store);
  // This Redis has no persistence, so `store-not-durable` is told too: only resets are kept here.
  const told: StoreEvent[] = [];
  store.onStoreEvent((event) => {
    if (event.type === 'store-reset') told.push(event);
  });
  return { store, told };
}

const charge = (order: string) => ({
  method: 'POST',
  url: 'http://127.0.0.1/v1/charges',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ order }),
});

/** A send that counts, records what was sent, and can be held until released. */
function provider() {
  const sent: PreparedRequest[] = [];
  let hold: Promise<void> | undefined;
  let release: () => void = () => undefined;
  return {
    sent,
    holdNext() {
      hold = new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    release: () => release(),
    send: async (prepared: PreparedRequest): Promise<WireResponse> => {
      sent.push(prepared);
      const gate = hold;
      hold = undefined;
      await gate;
      return { status: 200, headers: {}, body: Buffer.from(`{"id":"ch_${sent.length}"}`) };
    },
  };
}

async function ready(): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise((resolve) => client.once('ready', resolve));
}

/** A restart without persistence: SIGKILL (no save) and start again on the same port, empty. */
async function restartEmpty(): Promise<void> {
  await server.stop('SIGKILL');
  await server.restart();
  await ready();
  expect(await client.dbsize()).toBe(0);
}

/** Waits (polling Redis' own clock, no sleeps) until the reset window of `error` is over. */
async function windowOver(error: StoreResetError): Promise<void> {
  await expect
    .poll(async () => {
      const [seconds, micros] = await client.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) >= error.refuseUntil;
    })
    .toBe(true);
}

function engine(store: RedisStore, events: OncelyEvent[] = [], routes = {}) {
  return createIdempotency({ store, namespace: 'reset', onEvent: (event) => events.push(event), ...routes });
}

describe('store reset (the epoch)', () => {
  it('restart without persistence while a write is in flight: the re-run is refused, then presumed unknown, never sent', async () => {
    const { store, told } = storeFor('reset-restart:');
    const api = provider();
    const first: Idempotency = engine(store);
    api.holdNext();
    const inFlight = first.execute(charge('in-flight'), api.send);
    await expect.poll(() => api.sent.length).toBe(1); // on its way to the provider

    await restartEmpty();

    // The re-run (another engine: as another process would) must not send: typed refusal.
    const rerun = engine(store);
    const refused = await rerun.execute(charge('in-flight'), api.send).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StoreResetError);
    expect(refused).toBeInstanceOf(StoreUnavailableError);
    expect(refused).toMatchObject({ code: 'ONCELY_STORE_UNAVAILABLE' });
    expect((refused as Error).message).toMatch(/lost its records \(epoch changed: the epoch key is gone/);
    expect((refused as Error).message).toMatch(/nothing was sent/);
    expect(api.sent).toHaveLength(1);
    expect(told).toEqual([
      expect.objectContaining({ type: 'store-reset', key: (refused as StoreResetError).key }),
    ]);
    expect(told[0]!.detail).toMatch(/flushed or restarted without persistence/);

    // The original write finishes; its record is gone, so it cannot be recorded (reported).
    const events: OncelyEvent[] = [];
    api.release();
    await inFlight;

    // After the window the key is written `unknown`: the write before the loss may have happened.
    await windowOver(refused as StoreResetError);
    const after = await engine(store, events)
      .execute(charge('in-flight'), api.send)
      .catch((e: unknown) => e);
    expect(after).toBeInstanceOf(UnknownOutcomeError);
    expect(api.sent).toHaveLength(1);
    const listed = [];
    for await (const record of store.list({ status: 'unknown' })) listed.push(record);
    expect(listed.map((record) => record.key)).toEqual([(refused as StoreResetError).key]);
    expect(listed[0]!.audit[0]).toMatchObject({
      action: 'unknown',
      detail: expect.stringMatching(/store reset/),
    });
    expect(told).toHaveLength(1); // one loss, one report
  });

  it('FLUSHALL under a native-key route: refused in the window, then re-sent under the same provider key', async () => {
    const { store, told } = storeFor('reset-flush:');
    const api = provider();
    const routes = { routes: [{ match: 'POST /v1/charges', provider: 'stripe' }] };
    const done = await engine(store, [], routes).execute(charge('native'), api.send);
    expect(done.replayed).toBe(false);

    await client.flushall();

    const refused = await engine(store, [], routes)
      .execute(charge('native'), api.send)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StoreResetError);
    expect(api.sent).toHaveLength(1);
    expect(told.map((event) => event.type)).toEqual(['store-reset']);

    // After the window: the provider deduplicates by its own key, so the engine may ask again.
    await windowOver(refused as StoreResetError);
    const again = await engine(store, [], routes).execute(charge('native'), api.send);
    expect(again.response.status).toBe(200);
    expect(api.sent).toHaveLength(2);
    expect(api.sent[1]!.setHeaders['idempotency-key']).toBe(api.sent[0]!.setHeaders['idempotency-key']);
    expect((await store.get(again.key!))?.status).toBe('completed');
  });

  it('a store instance that starts after the loss honours the window another instance found', async () => {
    const survivor = storeFor('reset-late:');
    const api = provider();
    await engine(survivor.store).execute(charge('late'), api.send);
    await restartEmpty();
    const refused = await engine(survivor.store)
      .execute(charge('late'), api.send)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StoreResetError);

    // A new process (new store instance, never saw the old epoch) during the window.
    const newcomer = storeFor('reset-late:');
    const also = await engine(newcomer.store)
      .execute(charge('late'), api.send)
      .catch((e: unknown) => e);
    expect(also).toBeInstanceOf(StoreResetError);
    expect(newcomer.told.map((event) => event.type)).toEqual(['store-reset']);
    expect(api.sent).toHaveLength(1);
  });

  it('a store instance that connected before the loss but granted nothing yet still finds it (it learns the epoch at connect)', async () => {
    const survivor = storeFor('reset-early:');
    const api = provider();
    await engine(survivor.store).execute(charge('early'), api.send);
    // A process that starts now and has not granted anything when Redis loses its data.
    const early = storeFor('reset-early:');
    await client.ping(); // answered after the store's epoch read on the same connection
    await restartEmpty();
    // It grants first after the loss: before, it could not tell and started a new epoch (found by the chaos suite).
    const refused = await engine(early.store)
      .execute(charge('early'), api.send)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StoreResetError);
    expect(early.told.map((event) => event.type)).toEqual(['store-reset']);
    expect(api.sent).toHaveLength(1);
  });

  it('resetUnknown: 0 opts out of the presumption: after the window the key is sent again', async () => {
    const { store } = storeFor('reset-optout:', { resetUnknown: 0 });
    const api = provider();
    await engine(store).execute(charge('opt-out'), api.send);
    await client.flushall();
    const refused = await engine(store)
      .execute(charge('opt-out'), api.send)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StoreResetError);
    await windowOver(refused as StoreResetError);
    const again = await engine(store).execute(charge('opt-out'), api.send);
    expect(again.replayed).toBe(false);
    expect(api.sent).toHaveLength(2); // the documented cost of opting out
  });

  it('restart from an older RDB snapshot: the epoch generation went back; replays still work in the window', async () => {
    // A server of its own: the snapshot it writes would come back on every restart of the shared one.
    const own = await startRedis({ args: ['--save', '', '--appendonly', 'no'] });
    const ownClient = new Redis(own.url, { retryStrategy: () => 50 });
    ownClient.on('error', () => undefined);
    const store = redisStore({ client: ownClient, keyPrefix: 'reset-rollback:', resetWindow: WINDOW_MS });
    const told: StoreEvent[] = [];
    store.onStoreEvent((event) => {
      if (event.type === 'store-reset') told.push(event);
    });
    const api = provider();
    try {
      const saved = await engine(store).execute(charge('before-snapshot'), api.send);
      await ownClient.save(); // dump.rdb now has this record
      await engine(store).execute(charge('after-snapshot'), api.send);
      expect(api.sent).toHaveLength(2);

      await own.stop('SIGKILL');
      await own.restart(); // loads dump.rdb: the first record, not the second
      if (ownClient.status !== 'ready') await new Promise((resolve) => ownClient.once('ready', resolve));

      const refused = await engine(store)
        .execute(charge('after-snapshot'), api.send)
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(StoreResetError);
      expect((refused as Error).message).toMatch(/older generation/);
      // What the snapshot kept still replays (a replay sends nothing), even inside the window.
      const replay = await engine(store).execute(charge('before-snapshot'), api.send);
      expect(replay.replayed).toBe(true);
      expect(replay.key).toBe(saved.key);
      expect(api.sent).toHaveLength(2);
      expect(told.map((event) => event.type)).toEqual(['store-reset']);
    } finally {
      await store.close();
      ownClient.disconnect();
      await own.destroy();
    }
  });
});
