import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LeaseLostError, RecordChangedError, RecordNotFoundError } from '../errors.js';
import type { IdempotencyRecord, IdempotencyStore, ReserveInput, StoredResponse } from '../types.js';

export interface StoreContractOptions {
  /** Namespace for the keys the suite writes (each key is also random). Default `'contract'`. */
  namespace?: string;
  /** Lease used where a test waits for expiry. Default 150 ms. */
  shortLeaseMs?: number;
  /** Called once after the suite, e.g. to close clients. */
  teardown?: () => Promise<void> | void;
}

const TTL = 60_000;
const LEASE = 30_000;
const RESPONSE: StoredResponse = {
  status: 201,
  statusText: 'Created',
  headers: { 'content-type': 'application/json' },
  body: Buffer.from('{"id":"ch_1"}').toString('base64'),
};

/**
 * The behaviour every `IdempotencyStore` must have, as a vitest suite:
 * `storeContract('redis', () => redisStore({ client }))`. Runs against real backends only.
 */
export function storeContract(
  name: string,
  makeStore: () => Promise<IdempotencyStore> | IdempotencyStore,
  options: StoreContractOptions = {},
): void {
  const namespace = options.namespace ?? 'contract';
  const shortLease = options.shortLeaseMs ?? 150;

  describe(`store contract: ${name}`, () => {
    let store: IdempotencyStore;
    beforeAll(async () => {
      store = await makeStore();
    });
    afterAll(async () => {
      await options.teardown?.();
    });

    const newKey = () => `${namespace}:${randomBytes(16).toString('hex')}`;
    const input = (key: string, over: Partial<ReserveInput> = {}): ReserveInput => ({
      key,
      scope: 'scope-hash',
      fingerprint: 'fp-1',
      method: 'POST',
      target: 'https://api.example.com/v1/charges',
      owner: `owner-${randomBytes(4).toString('hex')}`,
      leaseMs: LEASE,
      ttlMs: TTL,
      ...over,
    });
    /** Waits for the lease to run out, woken by the store itself (waitFor wakes on lease expiry). */
    const untilLeaseExpires = async (key: string) => {
      await vi.waitFor(
        async () => {
          const record = await store.waitFor(key, shortLease * 4);
          expect(record?.status !== 'in_flight' || (record.leaseUntil ?? 0) <= Date.now()).toBe(true);
        },
        { timeout: shortLease * 20, interval: 5 },
      );
    };

    it('reserve inserts an in_flight record, then returns it to the next caller in the same call', async () => {
      const key = newKey();
      const first = await store.reserve(input(key, { providerKey: 'pk_1' }));
      expect(first.acquired).toBe(true);
      expect(first.record).toMatchObject({
        key,
        status: 'in_flight',
        fingerprint: 'fp-1',
        attempts: 1,
        revision: 0,
      });
      expect(first.record.fencingToken).toBeGreaterThan(0);
      expect(first.record.leaseUntil).toBeGreaterThan(Date.now());
      expect(first.record.expiresAt).toBeGreaterThan(Date.now() + TTL / 2);
      const second = await store.reserve(input(key, { fingerprint: 'fp-2' }));
      expect(second.acquired).toBe(false);
      expect(second.record.fencingToken).toBe(first.record.fencingToken);
      expect(second.record.fingerprint).toBe('fp-1');
      expect(second.record.providerKey).toBe('pk_1');
    });

    it('N concurrent reserves: exactly one owner', async () => {
      const key = newKey();
      const results = await Promise.all(Array.from({ length: 50 }, () => store.reserve(input(key))));
      expect(results.filter((r) => r.acquired)).toHaveLength(1);
      const tokens = new Set(results.map((r) => r.record.fencingToken));
      expect(tokens.size).toBe(1);
    });

    it('complete stores the response; the next reserve returns it (a replay costs one call)', async () => {
      const key = newKey();
      const { record } = await store.reserve(input(key));
      const done = await store.complete(key, record.fencingToken, {
        response: RESPONSE,
        ttlMs: TTL,
        providerKey: 'pk',
      });
      expect(done.status).toBe('completed');
      expect(done.leaseOwner).toBeNull();
      const again = await store.reserve(input(key));
      expect(again.acquired).toBe(false);
      expect(again.record.status).toBe('completed');
      expect(again.record.response).toEqual(RESPONSE);
      expect(again.record.providerKey).toBe('pk');
    });

    it('a stale token cannot complete, release, extend or mark unknown', async () => {
      const key = newKey();
      const { record } = await store.reserve(input(key));
      const stale = record.fencingToken + 1000;
      await expect(store.complete(key, stale, { response: RESPONSE, ttlMs: TTL })).rejects.toBeInstanceOf(
        LeaseLostError,
      );
      await expect(store.release(key, stale)).rejects.toBeInstanceOf(LeaseLostError);
      await expect(store.extend(key, stale, LEASE)).rejects.toBeInstanceOf(LeaseLostError);
      await expect(store.markUnknown(key, stale, 'x', TTL)).rejects.toBeInstanceOf(LeaseLostError);
      const current = await store.get(key);
      expect(current?.status).toBe('in_flight');
      expect(current?.fencingToken).toBe(record.fencingToken);
    });

    it('complete after completion is refused (no second writer)', async () => {
      const key = newKey();
      const { record } = await store.reserve(input(key));
      await store.complete(key, record.fencingToken, { response: RESPONSE, ttlMs: TTL });
      const other: StoredResponse = { ...RESPONSE, status: 500 };
      await expect(
        store.complete(key, record.fencingToken, { response: other, ttlMs: TTL }),
      ).rejects.toBeInstanceOf(LeaseLostError);
      expect((await store.get(key))?.response?.status).toBe(201);
    });

    it('release frees the key; the next owner gets a greater token', async () => {
      const key = newKey();
      const first = await store.reserve(input(key));
      await store.release(key, first.record.fencingToken);
      expect(await store.get(key)).toBeUndefined();
      const second = await store.reserve(input(key));
      expect(second.acquired).toBe(true);
      expect(second.record.fencingToken).toBeGreaterThan(first.record.fencingToken);
    });

    it('extend pushes the lease forward', async () => {
      const key = newKey();
      const { record } = await store.reserve(input(key, { leaseMs: 1_000 }));
      const until = await store.extend(key, record.fencingToken, 20_000);
      expect(until).toBeGreaterThan(record.leaseUntil!);
      expect((await store.get(key))?.leaseUntil).toBe(until);
    });

    it('markUnknown drops the lease and keeps the record for reconciliation', async () => {
      const key = newKey();
      const { record } = await store.reserve(input(key));
      await store.markUnknown(key, record.fencingToken, 'ECONNRESET', TTL);
      const current = await store.get(key);
      expect(current).toMatchObject({ status: 'unknown', leaseOwner: null, leaseUntil: null });
      expect(current?.audit.some((entry) => entry.action === 'unknown')).toBe(true);
    });

    it('takeOver is refused while the lease is alive or with a wrong token', async () => {
      const key = newKey();
      const { record } = await store.reserve(input(key));
      const takeover = {
        owner: 'b',
        leaseMs: LEASE,
        ttlMs: TTL,
        audit: { at: Date.now(), action: 'takeover' as const },
      };
      const expect_ = (token: number, status: IdempotencyRecord['status']) => ({
        ...takeover,
        expectedToken: token,
        expectedStatus: status,
      });
      expect((await store.takeOver(key, expect_(record.fencingToken, 'in_flight'))).won).toBe(false);
      await store.markUnknown(key, record.fencingToken, 'x', TTL);
      expect((await store.takeOver(key, expect_(record.fencingToken + 1, 'unknown'))).won).toBe(false);
      expect((await store.takeOver(key, expect_(record.fencingToken, 'in_flight'))).won).toBe(false);
      const won = await store.takeOver(key, expect_(record.fencingToken, 'unknown'));
      expect(won.won).toBe(true);
      expect(won.record?.status).toBe('in_flight');
      expect(won.record?.attempts).toBe(2);
    });

    it('an expired lease is taken over by exactly one of N, and the stale owner is fenced out', async () => {
      const key = newKey();
      const { record } = await store.reserve(input(key, { leaseMs: shortLease }));
      await untilLeaseExpires(key);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.takeOver(key, {
            expectedToken: record.fencingToken,
            expectedStatus: 'in_flight',
            owner: `contender-${i}`,
            leaseMs: LEASE,
            ttlMs: TTL,
            audit: { at: Date.now(), action: 'takeover', detail: 'lease-expired' },
          }),
        ),
      );
      const winners = results.filter((r) => r.won);
      expect(winners).toHaveLength(1);
      const winner = winners[0]!.record!;
      expect(winner.fencingToken).toBeGreaterThan(record.fencingToken);
      await expect(
        store.complete(key, record.fencingToken, { response: RESPONSE, ttlMs: TTL }),
      ).rejects.toBeInstanceOf(LeaseLostError);
      await store.complete(key, winner.fencingToken, { response: RESPONSE, ttlMs: TTL });
      expect((await store.get(key))?.status).toBe('completed');
    });

    it('takeOver of a completed record moves it to a new payload (override), bumping the revision', async () => {
      const key = newKey();
      const { record } = await store.reserve(input(key));
      await store.complete(key, record.fencingToken, { response: RESPONSE, ttlMs: TTL });
      const done = (await store.get(key))!;
      await store.grantOverride(
        key,
        { reason: 'amount fixed', reviewer: 'alice' },
        { at: Date.now(), action: 'override-granted' },
        { token: done.fencingToken, status: 'completed' },
      );
      expect((await store.get(key))?.overrideGrant).toEqual({ reason: 'amount fixed', reviewer: 'alice' });
      const taken = await store.takeOver(key, {
        expectedToken: done.fencingToken,
        expectedStatus: 'completed',
        owner: 'b',
        leaseMs: LEASE,
        ttlMs: TTL,
        fingerprint: 'fp-2',
        bumpRevision: true,
        consumeGrant: true,
        audit: {
          at: Date.now(),
          action: 'override',
          reason: 'amount fixed',
          reviewer: 'alice',
          fingerprint: 'fp-2',
        },
      });
      expect(taken.won).toBe(true);
      expect(taken.record).toMatchObject({ status: 'in_flight', fingerprint: 'fp-2', revision: 1 });
      expect(taken.record?.overrideGrant).toBeUndefined();
      expect(taken.record?.audit.map((entry) => entry.action)).toEqual(['override-granted', 'override']);
    });

    it('waitFor wakes when the record leaves in_flight', async () => {
      const key = newKey();
      const { record } = await store.reserve(input(key));
      const waiting = store.waitFor(key, 20_000);
      await store.complete(key, record.fencingToken, { response: RESPONSE, ttlMs: TTL });
      const seen = await waiting;
      expect(seen?.status).toBe('completed');
    });

    it('waitFor wakes when the lease expires, and returns at once for a settled or missing key', async () => {
      const key = newKey();
      await store.reserve(input(key, { leaseMs: shortLease }));
      const seen = await store.waitFor(key, 20_000);
      expect(seen?.status).toBe('in_flight');
      expect(seen!.leaseUntil!).toBeLessThanOrEqual(Date.now());
      expect(await store.waitFor(newKey(), 20_000)).toBeUndefined();
    });

    it('waitFor returns the in_flight record when the timeout passes first', async () => {
      const key = newKey();
      await store.reserve(input(key));
      const seen = await store.waitFor(key, 30);
      expect(seen?.status).toBe('in_flight');
    });

    it('TTL expiry frees the key', async () => {
      const key = newKey();
      const { record } = await store.reserve(input(key, { leaseMs: 50, ttlMs: 100 }));
      await store.complete(key, record.fencingToken, { response: RESPONSE, ttlMs: 100 });
      await vi.waitFor(async () => expect(await store.get(key)).toBeUndefined(), {
        timeout: 5_000,
        interval: 20,
      });
      await store.purgeExpired();
      const again = await store.reserve(input(key));
      expect(again.acquired).toBe(true);
    });

    it('list filters by status (an expired lease counts as unknown) and namespace', async () => {
      const ns = `${namespace}-list-${randomBytes(4).toString('hex')}`;
      const keyOf = () => `${ns}:${randomBytes(16).toString('hex')}`;
      const [a, b, c] = [keyOf(), keyOf(), keyOf()];
      const ra = await store.reserve(input(a));
      await store.complete(a, ra.record.fencingToken, { response: RESPONSE, ttlMs: TTL });
      const rb = await store.reserve(input(b));
      await store.markUnknown(b, rb.record.fencingToken, 'x', TTL);
      await store.reserve(input(c, { leaseMs: shortLease }));
      await untilLeaseExpires(c);
      const collect = async (status?: IdempotencyRecord['status']) => {
        const keys: string[] = [];
        for await (const record of store.list({ namespace: ns, status })) keys.push(record.key);
        return keys.sort();
      };
      expect(await collect()).toEqual([a, b, c].sort());
      expect(await collect('completed')).toEqual([a]);
      expect(await collect('unknown')).toEqual([b, c].sort());
      expect(await collect('in_flight')).toEqual([]);
    });

    it('resolve records an operator outcome or frees the key; unknown keys are refused', async () => {
      const key = newKey();
      const { record } = await store.reserve(input(key));
      await store.markUnknown(key, record.fencingToken, 'x', TTL);
      const audit = {
        at: Date.now(),
        action: 'resolved-completed' as const,
        reason: 'checked',
        reviewer: 'alice',
      };
      const seen = { token: record.fencingToken, status: 'unknown' as const };
      const resolved = await store.resolve(
        key,
        { as: 'completed', response: RESPONSE, ttlMs: TTL },
        audit,
        seen,
      );
      expect(resolved).toMatchObject({ status: 'completed', response: RESPONSE });
      expect(resolved!.fencingToken).toBeGreaterThan(record.fencingToken);
      await store.resolve(key, { as: 'absent' }, audit, {
        token: resolved!.fencingToken,
        status: 'completed',
      });
      expect(await store.get(key)).toBeUndefined();
      await expect(store.resolve(newKey(), { as: 'absent' }, audit, seen)).rejects.toBeInstanceOf(
        RecordNotFoundError,
      );
      await expect(
        store.grantOverride(
          newKey(),
          { reason: 'r', reviewer: 'a' },
          { at: Date.now(), action: 'override-granted' },
          seen,
        ),
      ).rejects.toBeInstanceOf(RecordNotFoundError);
    });

    it('resolve and grantOverride are compare-and-set: a record changed since it was read is left alone', async () => {
      const key = newKey();
      const { record } = await store.reserve(input(key, { leaseMs: shortLease }));
      const audit = { at: Date.now(), action: 'resolved-completed' as const, reason: 'r', reviewer: 'a' };
      const seen = { token: record.fencingToken, status: 'in_flight' as const };
      // An operator read the expired in_flight record; the engine took it over meanwhile.
      await untilLeaseExpires(key);
      const taken = await store.takeOver(key, {
        expectedToken: record.fencingToken,
        expectedStatus: 'in_flight',
        owner: 'engine',
        leaseMs: LEASE,
        ttlMs: TTL,
        audit: { at: Date.now(), action: 'takeover' },
      });
      expect(taken.won).toBe(true);
      await expect(store.resolve(key, { as: 'absent' }, audit, seen)).rejects.toBeInstanceOf(
        RecordChangedError,
      );
      await expect(
        store.resolve(key, { as: 'completed', response: RESPONSE, ttlMs: TTL }, audit, seen),
      ).rejects.toBeInstanceOf(RecordChangedError);
      await expect(
        store.grantOverride(
          key,
          { reason: 'r', reviewer: 'a' },
          { at: Date.now(), action: 'override-granted' },
          seen,
        ),
      ).rejects.toBeInstanceOf(RecordChangedError);
      const after = await store.get(key);
      expect(after).toMatchObject({
        status: 'in_flight',
        fencingToken: taken.record!.fencingToken,
        leaseOwner: 'engine',
      });
      expect(after?.overrideGrant).toBeUndefined();
    });

    it('two resolves of one record at once: exactly one wins', async () => {
      const key = newKey();
      const { record } = await store.reserve(input(key));
      await store.markUnknown(key, record.fencingToken, 'x', TTL);
      const seen = { token: record.fencingToken, status: 'unknown' as const };
      const resolveAs = (reviewer: string) =>
        store.resolve(
          key,
          { as: 'completed', response: { ...RESPONSE, statusText: reviewer }, ttlMs: TTL },
          { at: Date.now(), action: 'resolved-completed', reason: 'r', reviewer },
          seen,
        );
      const results = await Promise.allSettled([resolveAs('alice'), resolveAs('bob')]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(RecordChangedError);
      const winner = (won[0] as PromiseFulfilledResult<IdempotencyRecord | undefined>).value;
      expect((await store.get(key))?.response?.statusText).toBe(winner?.response?.statusText);
    });

    it('takeOver refuses a record that completed after the caller read it (same token, new status)', async () => {
      const key = newKey();
      const { record } = await store.reserve(input(key, { leaseMs: shortLease }));
      await untilLeaseExpires(key);
      // B read the expired lease; A (slow, not dead) completes before B's takeOver lands.
      // (A store may refuse a completion after the lease, e.g. Redlock once the lock lapsed: then
      // the record is still in_flight and B may take it; what must never happen is B winning a
      // completed record.)
      const completed = await store
        .complete(key, record.fencingToken, { response: RESPONSE, ttlMs: TTL })
        .then(
          () => true,
          (error: unknown) => {
            expect(error).toBeInstanceOf(LeaseLostError);
            return false;
          },
        );
      if (!completed) return;
      const current = await store.get(key);
      const taken = await store.takeOver(key, {
        expectedToken: record.fencingToken,
        expectedStatus: 'in_flight',
        owner: 'b',
        leaseMs: LEASE,
        ttlMs: TTL,
        audit: { at: Date.now(), action: 'takeover', detail: 'lease-expired' },
      });
      expect(taken.won).toBe(false);
      expect(await store.get(key)).toMatchObject({
        status: current!.status,
        fencingToken: current!.fencingToken,
      });
    });

    it('records carry the store clock they were read at (observedAt)', async () => {
      const key = newKey();
      const { record } = await store.reserve(input(key));
      expect(typeof record.observedAt).toBe('number');
      expect(Math.abs(record.observedAt! - record.createdAt)).toBeLessThan(LEASE);
      const read = await store.get(key);
      expect(read?.observedAt).toBeGreaterThanOrEqual(record.observedAt!);
    });
  });
}
