import { isTakeable, leaseLive, type RecordStatus } from '@oncely/core';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeEpoch } from '../src/epoch.js';
import { type KeySet, keysFor } from '../src/keys.js';
import { parseReply, type Reply, recordFrom } from '../src/record.js';
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
  SWEEP_MARKER,
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
    const sweep = args(SWEEP_MARKER, { record: 'r', marker: 'm' }, {});
    expect(sweep.keys).toEqual(['m', 'r']);
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
    // @ts-expect-error the marker key is missing
    args(RELEASE, { record: 'r' }, { token: 1, owner: 'o', channel: 'c' });
    expect(RELEASE.keys).toEqual(['record', 'marker']);
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
  const ekey = `${prefix}epoch`;
  const shas = new Map<Script, string>();
  let counter = 0;

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
  const hash = (key: string) => client.hgetall(key);
  const freshKeys = () => keysFor(prefix, `ns:k${++counter}`);
  const epochArgs = { epochId: '', epochGen: 0, freshEpochId: 'test.0', resetRefuseMs: 0, resetUnknownMs: 0 };

  function reserve(k: KeySet, owner = 'owner-a') {
    return run(
      args(
        RESERVE,
        { ...k, epoch: ekey },
        {
          key: 'ns:key',
          scope: 'scope',
          fingerprint: 'fp',
          method: 'POST',
          target: 'https://api.test/x',
          owner,
          leaseMs: 10_000,
          ttlMs: 60_000,
          providerKey: '',
          graceMs: 5_000,
          ...epochArgs,
        },
      ),
    );
  }

  /** A fresh in_flight record; returns its keys and token. */
  async function reserved(owner = 'owner-a') {
    const k = freshKeys();
    const reply = await reserve(k, owner);
    takeEpoch(reply);
    return { k, token: recordFrom(reply.rest).fencingToken, now: reply.now };
  }

  const complete = (k: KeySet, token: number | string, owner = 'owner-a') =>
    run(
      args(COMPLETE, k, {
        token,
        owner,
        responseJson: '{"status":201}',
        ttlMs: 60_000,
        providerKey: 'pk_1',
        auditJson: '{"at":1,"action":"completed"}',
        channel: k.channel,
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
  const takeOver = (k: KeySet, expectedToken: number, expectedStatus: string) =>
    run(
      args(
        TAKE_OVER,
        { ...k, epoch: ekey },
        {
          expectedToken,
          expectedStatus,
          owner: 'owner-b',
          leaseMs: 10_000,
          ttlMs: 60_000,
          fingerprint: '',
          providerKey: '',
          bumpRevision: '1',
          consumeGrant: '0',
          auditJson: '{"at":2,"action":"takeover"}',
          graceMs: 5_000,
          ...epochArgs,
        },
      ),
    );

  it('reserve, fresh: acquired; writes the record, its marker, the token sequence and the epoch', async () => {
    const k = freshKeys();
    const reply = await reserve(k);
    const { epoch } = takeEpoch(reply);
    expect(reply.outcome).toBe('acquired');
    const record = await hash(k.record);
    expect(record).toMatchObject({
      key: 'ns:key',
      status: 'in_flight',
      leaseOwner: 'owner-a',
      leaseUntil: String(reply.now + 10_000),
      expiresAt: String(reply.now + 60_000),
      attempts: '1',
      revision: '0',
      audit: '[]',
    });
    expect(record.providerKey).toBeUndefined();
    expect(recordFrom(reply.rest).fencingToken).toBe(Number(record.fencingToken));
    expect(await hash(k.marker)).toEqual(record);
    expect(await client.get(k.sequence)).toBe(record.fencingToken);
    expect(await client.pexpiretime(k.marker)).toBe(reply.now + 60_000 + 5_000);
    expect(epoch?.generation).toBeGreaterThan(0);
  });

  it('reserve, existing: exists with the stored record; nothing is written', async () => {
    const { k, token } = await reserved();
    const before = await hash(k.record);
    const reply = await reserve(k, 'owner-b');
    takeEpoch(reply);
    expect(reply.outcome).toBe('exists');
    expect(recordFrom(reply.rest)).toMatchObject({ fencingToken: token, leaseOwner: 'owner-a' });
    expect(await hash(k.record)).toEqual(before);
  });

  it('reserve over an expired undecided record sets its marker aside in gone; sweepGone hands it back once', async () => {
    const { k, token } = await reserved();
    await client.hset(k.record, 'expiresAt', '1'); // expired by the store's rule (expiresAt <= now)
    const reply = await reserve(k, 'owner-b');
    takeEpoch(reply);
    expect(reply.outcome).toBe('acquired');
    expect(recordFrom(reply.rest).fencingToken).toBeGreaterThan(token);
    const swept = await run(args(SWEEP_GONE, k, {}));
    expect(swept.outcome).toBe('expired');
    expect(swept.rest.map((entry) => recordFrom(JSON.parse(entry) as string[]).fencingToken)).toEqual([
      token,
    ]);
    expect(await client.exists(k.gone)).toBe(0);
  });

  it('complete with the right token: completed, response stored, lease cleared, marker deleted', async () => {
    const { k, token } = await reserved();
    const reply = await complete(k, token);
    expect(reply.outcome).toBe('ok');
    expect(reply.rest).not.toContain('response'); // the caller has it
    expect(await hash(k.record)).toMatchObject({
      status: 'completed',
      response: '{"status":201}',
      providerKey: 'pk_1',
      leaseOwner: '',
      leaseUntil: '',
      expiresAt: String(reply.now + 60_000),
      audit: '[{"at":1,"action":"completed"}]',
    });
    expect(await client.exists(k.marker)).toBe(0);
    expect(await client.pexpiretime(k.sequence)).toBeGreaterThanOrEqual(reply.now + 60_000);
  });

  it('complete with a wrong token or owner: lost, nothing written', async () => {
    const { k, token } = await reserved();
    const before = await hash(k.record);
    expect(await complete(k, token + 1)).toMatchObject({
      outcome: 'lost',
      rest: [`the record now has token ${token}`],
    });
    expect(await complete(k, token, 'owner-x')).toMatchObject({
      outcome: 'lost',
      rest: ['the lease belongs to another owner'],
    });
    expect(await hash(k.record)).toEqual(before);
  });

  it('extend: a new leaseUntil from Redis time', async () => {
    const { k, token } = await reserved();
    const reply = await run(args(EXTEND, k, { token, owner: 'owner-a', leaseMs: 30_000 }));
    expect(reply).toMatchObject({ outcome: 'ok', rest: [String(reply.now + 30_000)] });
    expect((await hash(k.record)).leaseUntil).toBe(String(reply.now + 30_000));
  });

  it('markUnknown: unknown, lease cleared, an audit entry with the cause, marker refreshed', async () => {
    const { k, token } = await reserved();
    const reply = await markUnknown(k, token);
    expect(reply.outcome).toBe('ok');
    const record = await hash(k.record);
    expect(record).toMatchObject({ status: 'unknown', leaseOwner: '', leaseUntil: '' });
    expect(JSON.parse(record.audit!)).toEqual([
      { at: reply.now, action: 'unknown', token, detail: 'socket hang up' },
    ]);
    expect(await hash(k.marker)).toEqual(record);
    expect(await client.pexpiretime(k.marker)).toBe(reply.now + 60_000 + 5_000);
  });

  it('release: record and marker deleted (the sequence stays); a stranger is refused', async () => {
    const { k, token } = await reserved();
    const stranger = await run(args(RELEASE, k, { token, owner: 'owner-x', channel: k.channel }));
    expect(stranger).toMatchObject({ outcome: 'lost', rest: ['the lease belongs to another owner'] });
    expect(await run(args(RELEASE, k, { token, owner: 'owner-a', channel: k.channel }))).toMatchObject({
      outcome: 'ok',
    });
    expect(await client.exists(k.record, k.marker)).toBe(0);
    expect(await client.get(k.sequence)).toBe(String(token));
  });

  it('takeOver as expected: won, a new token, attempts and revision up, the new owner holds the lease', async () => {
    const { k, token } = await reserved();
    await markUnknown(k, token);
    const reply = await takeOver(k, token, 'unknown');
    takeEpoch(reply);
    expect(reply.outcome).toBe('won');
    const record = await hash(k.record);
    expect(Number(record.fencingToken)).toBeGreaterThan(token);
    expect(record).toMatchObject({
      status: 'in_flight',
      leaseOwner: 'owner-b',
      leaseUntil: String(reply.now + 10_000),
      attempts: '2',
      revision: '1',
    });
    expect(JSON.parse(record.audit!).at(-1)).toEqual({
      token: Number(record.fencingToken),
      at: 2,
      action: 'takeover',
    });
    expect((await hash(k.marker)).fencingToken).toBe(record.fencingToken);
  });

  it('takeOver not as expected (other token, other status, a live lease): refused, nothing written', async () => {
    const { k, token } = await reserved();
    const before = await hash(k.record);
    for (const [expectedToken, expectedStatus] of [
      [token + 1, 'in_flight'],
      [token, 'unknown'],
      [token, 'in_flight'], // the lease is live
    ] as const) {
      const reply = await takeOver(k, expectedToken, expectedStatus);
      takeEpoch(reply);
      expect(reply.outcome).toBe('refused');
    }
    expect(await hash(k.record)).toEqual(before);
    await client.hset(k.record, 'leaseUntil', '1'); // the lease expired: now it may be taken
    const reply = await takeOver(k, token, 'in_flight');
    takeEpoch(reply);
    expect(reply.outcome).toBe('won');
  });

  it('takeOver of a gone record: gone', async () => {
    const reply = await takeOver(freshKeys(), 1, 'unknown');
    takeEpoch(reply);
    expect(reply.outcome).toBe('gone');
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
        expectedToken,
        expectedStatus,
      }),
    );

  it('resolve completed: a new token, completed with the response; marker deleted', async () => {
    const { k, token } = await reserved();
    await markUnknown(k, token);
    const reply = await resolve(k, token, 'unknown', 'completed');
    expect(reply.outcome).toBe('ok');
    const record = await hash(k.record);
    expect(record).toMatchObject({ status: 'completed', response: '{"status":200}', leaseOwner: '' });
    expect(Number(record.fencingToken)).toBeGreaterThan(token);
    expect(await client.exists(k.marker)).toBe(0);
  });

  it('resolve absent: deleted; resolve of a changed record: changed, with what it is now', async () => {
    const { k, token } = await reserved();
    expect(await resolve(k, token, 'unknown', 'absent')).toMatchObject({
      outcome: 'changed',
      rest: ['in_flight', String(token)],
    });
    expect(await resolve(k, token, 'in_flight', 'absent')).toMatchObject({ outcome: 'deleted' });
    expect(await client.exists(k.record, k.marker)).toBe(0);
    expect(await resolve(k, token, 'in_flight', 'absent')).toMatchObject({ outcome: 'gone' });
  });

  it('grantOverride: the grant and an audit entry; a changed record is refused', async () => {
    const { k, token } = await reserved();
    const grant = (expectedToken: number) =>
      run(
        args(GRANT_OVERRIDE, k, {
          grantJson: '{"reason":"r","reviewer":"v"}',
          auditJson: '{"at":4,"action":"override"}',
          expectedToken,
          expectedStatus: 'in_flight',
        }),
      );
    expect((await grant(token + 1)).outcome).toBe('changed');
    expect((await hash(k.record)).overrideGrant).toBeUndefined();
    expect((await grant(token)).outcome).toBe('ok');
    expect(await hash(k.record)).toMatchObject({
      overrideGrant: '{"reason":"r","reviewer":"v"}',
      audit: '[{"at":4,"action":"override"}]',
    });
  });

  it('read: the record, or gone once expiresAt has passed (and the hash is deleted)', async () => {
    const { k, token } = await reserved();
    const reply = await run(args(READ, k, {}));
    expect(reply.outcome).toBe('ok');
    expect(recordFrom(reply.rest).fencingToken).toBe(token);
    await client.hset(k.record, 'expiresAt', '1');
    expect((await run(args(READ, k, {}))).outcome).toBe('gone');
    expect(await client.exists(k.record)).toBe(0);
  });

  it('sweepMarker: live while the record has its token; expired (once) when it is gone', async () => {
    const { k, token } = await reserved();
    const sweep = () => run(args(SWEEP_MARKER, k, {}));
    expect((await sweep()).outcome).toBe('live');
    await client.del(k.record);
    const reply = await sweep();
    expect(reply.outcome).toBe('expired');
    expect(recordFrom(reply.rest)).toMatchObject({ fencingToken: token, status: 'in_flight' });
    expect(await client.exists(k.marker)).toBe(0);
    expect(await sweep()).toMatchObject({ outcome: 'live', rest: [] }); // nothing left to hand back
  });
});
