import { createIdempotency, type IdempotencyStore } from '@oncely/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, useStore } from '../src/index.js';
import { charge, collector, type Fixture, fixture, okSend, unknownRecord } from './support.js';

/**
 * An operator's command reads a record, then writes it: between the two, the engine (or another
 * operator) may act. Every write is a compare-and-set on what was read, so the loser changes
 * nothing and exits 4. The interleavings are forced through store wrappers, not timing.
 */

let f: Fixture;
let order = 0;
const who = ['--reason', 'checked the provider dashboard', '--reviewer', 'alice'];

beforeAll(async () => {
  f = await fixture('races');
});

afterAll(async () => {
  await f?.close();
});

const nextBody = () => ({ amount: 100, order: `race-${++order}` });

/** The fixture's store with `get` (the command's read) followed by `afterRead`. */
function readThen(afterRead: () => Promise<void>): IdempotencyStore {
  const store = f.store;
  return new Proxy(store, {
    get(target, name, receiver) {
      if (name === 'get') {
        return async (key: string) => {
          const record = await target.get(key);
          await afterRead();
          return record;
        };
      }
      const value = Reflect.get(target, name, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function run(argv: string[], store: IdempotencyStore) {
  const out = collector();
  const err = collector();
  const code = await main(argv, { stdout: out, stderr: err, openStore: useStore(store) });
  return { code, stdout: out.text, stderr: err.text };
}

describe('oncely resolve against a racing engine and a racing operator', () => {
  it('resolve --as absent loses to an engine takeover that lands after its read: exit 4, the engine completes, no second write', async () => {
    const body = nextBody();
    const key = await unknownRecord(f, body);
    const send = okSend('{"id":"ch_engine"}');
    // The engine reconciles with a hook that finds nothing (so it sends), on a fresh instance.
    const idem = createIdempotency({
      store: f.store,
      namespace: 'cli-test',
      routes: [{ match: 'POST /v1/charges', reconcile: (ctx) => ctx.absent() }],
      reconcileGrace: 0,
    });
    let engineRun: Promise<unknown> | undefined;
    const racing = readThen(async () => {
      engineRun = idem.execute(charge(body), send);
      await engineRun;
    });
    const { code, stderr } = await run(['resolve', key, '--as', 'absent', ...who], racing);
    expect(code).toBe(4);
    expect(stderr).toContain('changed since it was read');
    expect(stderr).toContain('Nothing was changed');
    expect(send.calls).toBe(1);
    // The engine's record stands: the next identical request replays it, nothing is sent again.
    expect((await f.store.get(key))?.status).toBe('completed');
    const again = await idem.execute(charge(body), send);
    expect(again.replayed).toBe(true);
    expect(send.calls).toBe(1);
    await idem.close();
  });

  it('two resolve --as completed at once: exactly one wins, the other exits 4', async () => {
    const key = await unknownRecord(f, nextBody());
    const file = (id: string) =>
      f.file(`${id}.json`, JSON.stringify({ status: 201, headers: {}, body: { id } }));
    // Both commands read the record before either writes.
    let arrived = 0;
    let release!: () => void;
    const bothRead = new Promise<void>((resolve) => {
      release = resolve;
    });
    const racing = readThen(async () => {
      arrived++;
      if (arrived === 2) release();
      await bothRead;
    });
    const results = await Promise.all(
      ['ch_alice', 'ch_bob'].map((id) =>
        run(['resolve', key, '--as', 'completed', '--response-file', file(id), ...who], racing),
      ),
    );
    const codes = results.map((r) => r.code).sort();
    expect(codes).toEqual([0, 4]);
    const winner = results.findIndex((r) => r.code === 0);
    const stored = await f.store.get(key);
    const body = JSON.parse(Buffer.from(stored!.response!.body!, 'base64').toString());
    expect(body.id).toBe(winner === 0 ? 'ch_alice' : 'ch_bob');
    expect(stored!.audit.filter((entry) => entry.action === 'resolved-completed')).toHaveLength(1);
  });

  it('override loses to a resolve that lands after its read: exit 4, no grant recorded', async () => {
    const key = await unknownRecord(f, nextBody());
    const responseFile = f.file('op.json', JSON.stringify({ status: 201, headers: {}, body: { id: 'op' } }));
    const racing = readThen(async () => {
      expect(
        (await run(['resolve', key, '--as', 'completed', '--response-file', responseFile, ...who], f.store))
          .code,
      ).toBe(0);
    });
    const { code, stderr } = await run(['override', key, ...who], racing);
    expect(code).toBe(4);
    expect(stderr).toContain('changed since it was read');
    expect((await f.store.get(key))?.overrideGrant).toBeUndefined();
  });
});
