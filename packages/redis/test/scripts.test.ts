import { isTakeable, leaseLive, type RecordStatus } from '@oncely/core';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochOf } from '../src/epoch.js';
import { type KeySet, keysFor } from '../src/keys.js';
import { packRecord, parseReply, type Reply, unpackRecord } from '../src/record.js';
import {
  args,
  COMPLETE,
  EXTEND,
  GRANT_OVERRIDE,
  LEASE_RULES,
  MARK_UNKNOWN,
  READ,
  RELEASE,
  RESERVE,
  RESOLVE,
  SCRIPTS,
  type Script,
  type ScriptCall,
  SWEEP_GONE,
  SWEEP_RECORD,
  TAKE_OVER,
} from '../src/scripts.js';
import { connectShared, deletePrefix, uniquePrefix } from './support/shared-redis.js';

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The names a body unpacks from `KEYS` / `ARGV` on its first lines, and the body after them. */
function header(body: string): { keys: string[]; argv: string[]; rest: string } {
  const match = /^\s*local ([\w\s,]+?) = unpack\(KEYS\)\n(?:local ([\w\s,]+?) = unpack\(ARGV\)\n)?/.exec(
    body,
  );
  if (!match) return { keys: [], argv: [], rest: body };
  const names = (list: string | undefined) => (list ? list.split(',').map((name) => name.trim()) : []);
  return { keys: names(match[1]), argv: names(match[2]), rest: body.slice(match[0].length) };
}

describe('each Lua body names its KEYS and ARGV as its table does', () => {
  it.each(SCRIPTS.map((script) => [script.name, script] as const))('%s', (_, script: Script) => {
    const { keys, argv, rest } = header(script.body);
    expect(keys).toEqual(script.keys.map((name) => `${snake(name)}_key`));
    expect(argv).toEqual(script.argv.map(snake));
    // Past the header the body says names, never positions, and uses every name it declared.
    expect(rest).not.toMatch(/\b(KEYS|ARGV)\b/);
    for (const name of [...keys, ...argv]) expect(rest).toMatch(new RegExp(`\\b${name}\\b`));
    // The shared helpers take everything as parameters.
    expect(script.source.slice(0, -script.body.length)).not.toMatch(/\b(KEYS|ARGV)\b/);
  });

  it('the header check catches a body that unpacks other names than its table', () => {
    const body =
      '\nlocal record_key = unpack(KEYS)\nlocal owner, token = unpack(ARGV)\nreturn {owner, token}\n';
    expect(header(body).argv).not.toEqual(EXTEND.argv.map(snake));
  });

  it('args() orders KEYS and ARGV by the table, whatever order they are given in', () => {
    const k = keysFor('p:', 'ns:a');
    const call = args(EXTEND, k, { leaseMs: 500, owner: 'o', token: 7 });
    expect(call).toEqual({ script: EXTEND, keys: [k.record], argv: [7, 'o', 500] });
    const sweep = args(SWEEP_RECORD, { record: 'r', index: 'i' }, {});
    expect(sweep.keys).toEqual(['i', 'r']);
  });

  it('a missing or extra argument, or a missing key, is a type error', () => {
    const k = keysFor('p:', 'ns:a');
    const spread = { channel: 'c' };
    // @ts-expect-error leaseMs is missing
    args(EXTEND, k, { token: 1, owner: 'o' });
    // @ts-expect-error ttlMs is not an ARGV of extend
    args(EXTEND, k, { token: 1, owner: 'o', leaseMs: 1, ttlMs: 1 });
    // @ts-expect-error channel is not an ARGV of extend, even through a spread
    args(EXTEND, k, { token: 1, owner: 'o', leaseMs: 1, ...spread });
    // @ts-expect-error the index key is missing
    args(RELEASE, { record: 'r' }, { token: 1, owner: 'o', channel: 'c' });
    expect(RELEASE.keys).toEqual(['record', 'index']);
  });
});

describe('LEASE_RULES (Lua) agree with leaseLive / isTakeable (core record.ts)', () => {
  let client: Redis;
  beforeAll(async () => {
    client = await connectShared();
  });
  afterAll(() => client.disconnect());

  const now = 1_700_000_000_000;
  const statuses: RecordStatus[] = ['in_flight', 'completed', 'unknown'];
  const leases: (number | null)[] = [null, 0, now - 1, now, now + 1, now + 60_000];
  const cases = statuses.flatMap((status) => leases.map((leaseUntil) => ({ status, leaseUntil })));

  it(`on ${cases.length} cases`, async () => {
    // ARGV: now, then status and leaseUntil as the hash stores them ('' for no lease), per case.
    const lua = `${LEASE_RULES}
local now, out = tonumber(ARGV[1]), {}
for i = 2, #ARGV, 2 do
  out[#out + 1] = (lease_live(ARGV[i], ARGV[i + 1], now) and 'live' or 'not') .. ',' ..
    (is_takeable(ARGV[i], ARGV[i + 1], now) and 'takeable' or 'held')
end
return out`;
    const argv = cases.flatMap(({ status, leaseUntil }) => [
      status,
      leaseUntil === null ? '' : String(leaseUntil),
    ]);
    const lua_ = (await client.eval(lua, 0, now, ...argv)) as string[];
    const ts = cases.map(
      (record) =>
        `${leaseLive(record, now) ? 'live' : 'not'},${isTakeable(record, now) ? 'takeable' : 'held'}`,
    );
    expect(lua_).toEqual(ts);
    expect(ts).toContain('live,held'); // the table has both kinds
    expect(ts).toContain('not,takeable');
  });
});

describe('each transition script on its own (EVALSHA on the shared Redis)', () => {
  let client: Redis;
  const prefix = uniquePrefix('scripts');
  const shas = new Map<Script, string>();
  let counter = 0;
  /** The epoch as the scripts last answered it: what a store instance would send as known. */
  let known = '';

  beforeAll(async () => {
    client = await connectShared();
    for (const script of SCRIPTS) shas.set(script, String(await client.script('LOAD', script.source)));
  });
  afterAll(async () => {
    await deletePrefix(client, prefix);
    client.disconnect();
  });

  async function run(call: ScriptCall): Promise<Reply> {
    const sha = shas.get(call.script)!;
    return parseReply(await client.evalsha(sha, call.keys.length, ...call.keys, ...call.argv));
  }
  /** A grant's reply: the epoch it tells (if any) becomes the known one, with the token as its generation. */
  async function grant(call: ScriptCall): Promise<Reply> {
    const reply = await run(call);
    const { epoch } = epochOf(reply);
    if (epoch)
      known = `${epoch.id}|${epoch.generation}|${epoch.at}|${epoch.refuseUntil}|${epoch.unknownUntil}`;
    else if (reply.rest[0])
      known = known.replace(/^([^|]+)\|\d+\|/, `$1|${unpackRecord(reply.rest[0]).fencingToken}|`);
    return reply;
  }
  const stored = async (k: KeySet) => {
    const value = await client.get(k.record);
    return value === null ? undefined : unpackRecord(value);
  };
  const edit = async (k: KeySet, change: (r: NonNullable<Awaited<ReturnType<typeof stored>>>) => void) => {
    const record = (await stored(k))!;
    change(record);
    await client.set(k.record, packRecord(record), 'KEEPTTL');
  };
  const freshKeys = () => keysFor(prefix, `ns:k${++counter}`);
  const epochArgs = () => ({
    epochKnown: known,
    freshEpochId: 'test.0',
    resetRefuseMs: 0,
    resetUnknownMs: 0,
  });
  const identity = JSON.stringify(['ns:key', 'scope', 'fp', 'POST', 'https://api.test/x']);

  function reserve(k: KeySet, owner = 'owner-a') {
    return grant(
      args(RESERVE, k, {
        identity,
        owner,
        leaseMs: 10_000,
        ttlMs: 60_000,
        providerKey: '',
        graceMs: 5_000,
        ...epochArgs(),
      }),
    );
  }

  /** A fresh in_flight record; returns its keys and token. */
  async function reserved(owner = 'owner-a') {
    const k = freshKeys();
    const reply = await reserve(k, owner);
    return { k, token: unpackRecord(reply.rest[0]!).fencingToken, now: reply.now };
  }

  const complete = (k: KeySet, token: number | string, owner = 'owner-a', now: number | '' = '') =>
    run(
      args(COMPLETE, k, {
        token,
        owner,
        responseJson: '{"status":201}',
        callerNow: now,
        ttlMs: 60_000,
        providerKey: '"pk_1"',
        auditJson: '{"at":1,"action":"completed"}',
        channel: k.channel,
        wantRecord: '0',
      }),
    );
  const markUnknown = (k: KeySet, token: number, owner = 'owner-a') =>
    run(
      args(MARK_UNKNOWN, k, {
        token,
        owner,
        cause: 'socket hang up',
        ttlMs: 60_000,
        graceMs: 5_000,
        channel: k.channel,
      }),
    );
  const takeOver = (k: KeySet, expectedToken: number, expectedStatus: string, fingerprint = '') =>
    grant(
      args(TAKE_OVER, k, {
        expectedToken,
        expectedStatus,
        owner: 'owner-b',
        leaseMs: 10_000,
        ttlMs: 60_000,
        fingerprint,
        providerKey: '',
        bumpRevision: '1',
        consumeGrant: '0',
        auditJson: '{"at":2,"action":"takeover"}',
        graceMs: 5_000,
        changedChannel: `${prefix}changed`,
        ...epochArgs(),
      }),
    );

  it('reserve, fresh: acquired; writes the record (lingering past its expiry), indexes it, bumps the epoch', async () => {
    const k = freshKeys();
    const reply = await reserve(k);
    expect(reply.outcome).toBe('acquired');
    const record = (await stored(k))!;
    expect(record).toMatchObject({
      key: 'ns:key',
      status: 'in_flight',
      leaseOwner: 'owner-a',
      leaseUntil: reply.now + 10_000,
      expiresAt: reply.now + 60_000,
      attempts: 1,
      revision: 0,
      audit: [],
    });
    expect(record.providerKey).toBeUndefined();
    expect(unpackRecord(reply.rest[0]!)).toEqual(record);
    expect(await client.pexpiretime(k.record)).toBe(reply.now + 60_000 + 5_000 - 1);
    expect(Number(await client.zscore(k.index, k.record))).toBe(reply.now + 60_000);
    // The token is the epoch's new generation.
    expect((await client.get(k.epoch))!.split('|')[1]).toBe(String(record.fencingToken));
  });

  it('a grant that knows the epoch takes the next generation in one command; a counter that went back is a rollback', async () => {
    await reserved(); // `known` is now current
    const { k, token } = await reserved();
    expect(epochOf(await reserve(k))).toEqual({ epoch: undefined, found: '' }); // exists: no epoch at all
    const next = await reserve(freshKeys());
    expect(epochOf(next)).toEqual({ epoch: undefined, found: '' });
    expect(unpackRecord(next.rest[0]!).fencingToken).toBe(token + 1); // one more grant under the epoch
    // Rolled back behind the store's back (a restart from an older snapshot): the counter is lower
    // than the generation this instance last saw.
    const id = known.split('|')[0]!;
    await client.set(`${k.epoch}:${id}`, String(token - 10));
    const rolled = await reserve(freshKeys());
    expect(epochOf(rolled).found).toBe('rollback');
    expect(epochOf(rolled).epoch?.id).toBe('test.0');
  });

  it('the reviewer case: a stale instance granting first after a rollback does not hide it from a newer one', async () => {
    const staleKnown = known; // instance C's knowledge: before the snapshot
    const snapshot = (await client.get(freshKeys().epoch))!;
    const id = known.split('|')[0]!;
    const counterKey = `${freshKeys().epoch}:${id}`;
    const counterAtSnapshot = (await client.get(counterKey))!;
    await reserved(); // instance A grants after the snapshot…
    await reserved();
    const newer = known; // …and knows a later generation
    await client.set(freshKeys().epoch, snapshot); // the restart from the snapshot
    await client.set(counterKey, counterAtSnapshot);
    known = staleKnown;
    expect((await reserve(freshKeys())).outcome).toBe('acquired'); // C cannot tell
    known = newer;
    const a = await reserve(freshKeys());
    expect(epochOf(a).found).toBe('rollback'); // A still can
  });

  it('reserve, existing: exists with the stored record; nothing is written', async () => {
    const { k, token } = await reserved();
    const before = await client.get(k.record);
    const reply = await reserve(k, 'owner-b');
    expect(reply.outcome).toBe('exists');
    expect(unpackRecord(reply.rest[0]!)).toMatchObject({ fencingToken: token, leaseOwner: 'owner-a' });
    expect(await client.get(k.record)).toBe(before);
  });

  it('reserve over an expired undecided record sets it aside in gone; sweepGone hands it back once', async () => {
    const { k, token } = await reserved();
    await edit(k, (r) => {
      r.expiresAt = 1; // expired by the store's rule (expiresAt <= now), still lingering
    });
    const reply = await reserve(k, 'owner-b');
    expect(reply.outcome).toBe('acquired');
    expect(unpackRecord(reply.rest[0]!).fencingToken).toBeGreaterThan(token);
    const swept = await run(args(SWEEP_GONE, k, {}));
    expect(swept.outcome).toBe('expired');
    expect(swept.rest.map((entry) => unpackRecord(entry).fencingToken)).toEqual([token]);
    expect(await client.exists(k.gone)).toBe(0);
  });

  it('complete with the right token: completed, response stored, lease cleared, out of the index; replies without the record', async () => {
    const { k, token } = await reserved();
    const reply = await complete(k, token);
    expect(reply).toMatchObject({ outcome: 'ok', rest: [] });
    expect(await stored(k)).toMatchObject({
      status: 'completed',
      response: { status: 201 },
      providerKey: 'pk_1',
      leaseOwner: null,
      leaseUntil: null,
      expiresAt: reply.now + 60_000,
      audit: [{ at: 1, action: 'completed' }],
    });
    // Redis drops it at expiresAt by itself: no lingering for a completed record.
    expect(await client.pexpiretime(k.record)).toBe(reply.now + 60_000 - 1);
    expect(await client.zscore(k.index, k.record)).toBeNull();
  });

  it("complete dates the completion with the caller's estimate of Redis' clock when given one", async () => {
    const { k, token, now } = await reserved();
    const reply = await complete(k, token, 'owner-a', now + 7);
    expect(reply.now).toBe(now + 7);
    expect(await stored(k)).toMatchObject({ updatedAt: now + 7, expiresAt: now + 7 + 60_000 });
  });

  it('complete with a wrong token or owner: lost, nothing written', async () => {
    const { k, token } = await reserved();
    const before = await client.get(k.record);
    expect(await complete(k, token + 1)).toMatchObject({
      outcome: 'lost',
      rest: [`the record now has token ${token}`],
    });
    expect(await complete(k, token, 'owner-x')).toMatchObject({
      outcome: 'lost',
      rest: ['the lease belongs to another owner'],
    });
    expect(await client.get(k.record)).toBe(before);
  });

  it('a waiter flags the record (read with markWaiter); only then does the completion publish, with the record', async () => {
    const { k, token } = await reserved();
    const subscriber = client.duplicate();
    const heard: string[] = [];
    subscriber.on('message', (_channel: string, message: string) => heard.push(message));
    await subscriber.subscribe(k.channel);
    const quiet = await reserved();
    await complete(quiet.k, quiet.token);
    const read = await run(args(READ, k, { markWaiter: '1' }));
    expect(unpackRecord(read.rest[0]!).status).toBe('in_flight');
    await complete(k, token);
    await expect.poll(() => heard.length).toBe(1);
    expect(heard[0]!.startsWith('completed\n')).toBe(true);
    expect(unpackRecord(heard[0]!.slice('completed\n'.length))).toMatchObject({
      status: 'completed',
      fencingToken: token,
    });
    subscriber.disconnect();
  });

  it('extend: a new leaseUntil from Redis time', async () => {
    const { k, token } = await reserved();
    const reply = await run(args(EXTEND, k, { token, owner: 'owner-a', leaseMs: 30_000 }));
    expect(reply).toMatchObject({ outcome: 'ok', rest: [String(reply.now + 30_000)] });
    expect((await stored(k))?.leaseUntil).toBe(reply.now + 30_000);
  });

  it('markUnknown: unknown, lease cleared, an audit entry with the cause, still indexed, lingering', async () => {
    const { k, token } = await reserved();
    const reply = await markUnknown(k, token);
    expect(reply.outcome).toBe('ok');
    const record = (await stored(k))!;
    expect(record).toMatchObject({ status: 'unknown', leaseOwner: null, leaseUntil: null });
    expect(record.audit).toEqual([{ at: reply.now, action: 'unknown', token, detail: 'socket hang up' }]);
    expect(Number(await client.zscore(k.index, k.record))).toBe(reply.now + 60_000);
    expect(await client.pexpiretime(k.record)).toBe(reply.now + 60_000 + 5_000 - 1);
  });

  it('release: the record deleted and out of the index; a stranger is refused', async () => {
    const { k, token } = await reserved();
    const stranger = await run(args(RELEASE, k, { token, owner: 'owner-x', channel: k.channel }));
    expect(stranger).toMatchObject({ outcome: 'lost', rest: ['the lease belongs to another owner'] });
    expect(await run(args(RELEASE, k, { token, owner: 'owner-a', channel: k.channel }))).toMatchObject({
      outcome: 'ok',
    });
    expect(await client.exists(k.record)).toBe(0);
    expect(await client.zscore(k.index, k.record)).toBeNull();
  });

  it('takeOver as expected: won, a new token, attempts and revision up, the new owner holds the lease', async () => {
    const { k, token } = await reserved();
    await markUnknown(k, token);
    const reply = await takeOver(k, token, 'unknown', 'fp-2');
    expect(reply.outcome).toBe('won');
    const record = (await stored(k))!;
    expect(record.fencingToken).toBeGreaterThan(token);
    expect(record).toMatchObject({
      status: 'in_flight',
      fingerprint: 'fp-2',
      target: 'https://api.test/x',
      leaseOwner: 'owner-b',
      leaseUntil: reply.now + 10_000,
      attempts: 2,
      revision: 1,
    });
    expect(record.audit.at(-1)).toEqual({ token: record.fencingToken, at: 2, action: 'takeover' });
  });

  it('takeOver not as expected (other token, other status, a live lease): refused, nothing written', async () => {
    const { k, token } = await reserved();
    const before = await client.get(k.record);
    for (const [expectedToken, expectedStatus] of [
      [token + 1, 'in_flight'],
      [token, 'unknown'],
      [token, 'in_flight'], // the lease is live
    ] as const) {
      const reply = await takeOver(k, expectedToken, expectedStatus);
      expect(reply.outcome).toBe('refused');
    }
    expect(await client.get(k.record)).toBe(before);
    await edit(k, (r) => {
      r.leaseUntil = 1; // the lease expired: now it may be taken
    });
    expect((await takeOver(k, token, 'in_flight')).outcome).toBe('won');
  });

  it('takeOver of a gone record: gone', async () => {
    expect((await takeOver(freshKeys(), 1, 'unknown')).outcome).toBe('gone');
  });

  const resolve = (
    k: KeySet,
    expectedToken: number,
    expectedStatus: string,
    resolveAs: 'completed' | 'absent',
  ) =>
    run(
      args(RESOLVE, k, {
        resolveAs,
        responseJson: resolveAs === 'completed' ? '{"status":200}' : '',
        ttlMs: resolveAs === 'completed' ? 60_000 : 0,
        auditJson: '{"at":3,"action":"resolve"}',
        channel: k.channel,
        changedChannel: `${prefix}changed`,
        expectedToken,
        expectedStatus,
        epochKnown: known,
      }),
    );

  it('resolve completed: a new token, completed with the response; out of the index', async () => {
    const { k, token } = await reserved();
    await markUnknown(k, token);
    const reply = await resolve(k, token, 'unknown', 'completed');
    expect(reply.outcome).toBe('ok');
    const record = (await stored(k))!;
    expect(record).toMatchObject({ status: 'completed', response: { status: 200 }, leaseOwner: null });
    expect(record.fencingToken).toBeGreaterThan(token);
    expect(await client.zscore(k.index, k.record)).toBeNull();
  });

  it('resolve absent: deleted; resolve of a changed record: changed, with what it is now', async () => {
    const { k, token } = await reserved();
    expect(await resolve(k, token, 'unknown', 'absent')).toMatchObject({
      outcome: 'changed',
      rest: ['in_flight', String(token)],
    });
    expect(await resolve(k, token, 'in_flight', 'absent')).toMatchObject({ outcome: 'deleted' });
    expect(await client.exists(k.record)).toBe(0);
    expect(await resolve(k, token, 'in_flight', 'absent')).toMatchObject({ outcome: 'gone' });
  });

  it('grantOverride: the grant and an audit entry; a changed record is refused', async () => {
    const { k, token } = await reserved();
    const grantOverride = (expectedToken: number) =>
      run(
        args(GRANT_OVERRIDE, k, {
          grantJson: '{"reason":"r","reviewer":"v"}',
          auditJson: '{"at":4,"action":"override"}',
          expectedToken,
          expectedStatus: 'in_flight',
          changedChannel: `${prefix}changed`,
        }),
      );
    expect((await grantOverride(token + 1)).outcome).toBe('changed');
    expect((await stored(k))?.overrideGrant).toBeUndefined();
    expect((await grantOverride(token)).outcome).toBe('ok');
    expect(await stored(k)).toMatchObject({
      overrideGrant: { reason: 'r', reviewer: 'v' },
      audit: [{ at: 4, action: 'override' }],
    });
  });

  it('read: the record, or gone once expiresAt has passed (an undecided one still lingers for the sweep)', async () => {
    const { k, token } = await reserved();
    const reply = await run(args(READ, k, { markWaiter: '0' }));
    expect(reply.outcome).toBe('ok');
    expect(unpackRecord(reply.rest[0]!).fencingToken).toBe(token);
    await edit(k, (r) => {
      r.expiresAt = 1;
    });
    expect((await run(args(READ, k, { markWaiter: '0' }))).outcome).toBe('gone');
    expect(await client.exists(k.record)).toBe(1);
  });

  it('sweepRecord: live while the record is undecided and not expired; expired (once) after; a completed one leaves the index', async () => {
    const { k, token } = await reserved();
    const sweep = () => run(args(SWEEP_RECORD, k, {}));
    expect((await sweep()).outcome).toBe('live');
    expect(await client.zscore(k.index, k.record)).not.toBeNull();
    await edit(k, (r) => {
      r.expiresAt = 1;
    });
    const reply = await sweep();
    expect(reply.outcome).toBe('expired');
    expect(unpackRecord(reply.rest[0]!)).toMatchObject({ fencingToken: token, status: 'in_flight' });
    expect(await client.exists(k.record)).toBe(0);
    expect(await client.zscore(k.index, k.record)).toBeNull();
    expect(await sweep()).toMatchObject({ outcome: 'live', rest: [] }); // nothing left to hand back

    const done = await reserved();
    await complete(done.k, done.token);
    await client.zadd(done.k.index, 1, done.k.record); // a stale member
    expect((await run(args(SWEEP_RECORD, done.k, {}))).outcome).toBe('live');
    expect(await client.zscore(done.k.index, done.k.record)).toBeNull();
    expect((await stored(done.k))?.status).toBe('completed');
  });
});
