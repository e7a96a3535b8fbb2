import {
  type CompleteInput,
  ConfigError,
  type IdempotencyRecord,
  type IdempotencyStore,
  LeaseLostError,
  type ListFilter,
  leaseLive,
  RecordChangedError,
  RecordNotFoundError,
  type ReserveInput,
  type ReserveResult,
  StoreUnavailableError,
  type TakeOverInput,
  type TakeOverResult,
} from '@oncely/core';
import { CompletedCache } from './cache.js';
import { bounded, defineScripts, runScript } from './client.js';
import { compareVersions, inspectPersistence, type PersistenceReport } from './durability.js';
import { describeFinding, type Epoch, EpochTracker, epochOf, parseEpoch } from './epoch.js';
import { ReservationNotConfirmedError, StoreNotDurableError, StoreResetError } from './errors.js';
import { Holds } from './holds.js';
import { changedChannel, epochKey, type KeySet, keysFor, storeKeyOf } from './keys.js';
import { LeaseHeldError, type LeaseLock, type LeaseLocks, redlockLeases } from './lease.js';
import { type RedisStoreOptions, resolveOptions } from './options.js';
import {
  auditJson,
  identityLine,
  parseReply,
  providerKeyField,
  type Reply,
  recordOf,
  unpackRecord,
} from './record.js';
import { scanRecords, sweepExpired } from './scan.js';
import {
  args,
  COMPLETE,
  EXTEND,
  GRANT_OVERRIDE,
  MARK_UNKNOWN,
  READ,
  RELEASE,
  RESERVE,
  RESOLVE,
  type ScriptCall,
  TAKE_OVER,
} from './scripts.js';
import { Doorbell, Wakeups } from './wakeups.js';

export interface RedisStore extends IdempotencyStore {
  /** The prefix every key of this store starts with. */
  readonly keyPrefix: string;
  /** Reported by a sweep (every `sweepEvery` while someone listens, or `purgeExpired()`). */
  onExpiredUnknown(listener: (record: IdempotencyRecord) => void): () => void;
  /**
   * What Redis keeps across a restart (AOF, RDB snapshots, eviction) on every master, read now.
   * The store also reads it at first use and every minute while it grants leases.
   */
  persistence(): Promise<PersistenceReport>;
  /** `store-not-durable` (told to later listeners too) and `store-reset`; see `IdempotencyStore.onStoreEvent`. */
  onStoreEvent(listener: (event: StoreEvent) => void): () => void;
  /** Closes the connections the store opened itself (the wake-up subscriber) and stops its sweep. Never the caller's clients. */
  close(): Promise<void>;
}

export type StoreEvent = Parameters<Parameters<NonNullable<IdempotencyStore['onStoreEvent']>>[0]>[0];

/** Pause between attempts to lock a lease whose previous holder's Redlock lock has not lapsed yet. */
const LOCK_RETRY_MS = 50;
/** How old the persistence report may get while the store grants leases before it is read again. */
const PERSISTENCE_EVERY_MS = 60_000;
/** Defaults of the reset windows: at least core's default lease and ttl. */
const MIN_RESET_WINDOW_MS = 60_000;
const MIN_RESET_UNKNOWN_MS = 24 * 60 * 60 * 1000;

/**
 * The production store: every transition is one Lua script (one round trip), fenced by a token
 * per key; the clock is Redis'; records expire in Redis; waiters are woken over pub/sub.
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  const config = resolveOptions(options);
  const { client, keyPrefix, commandTimeoutMs } = config;
  defineScripts(client);
  const leases: LeaseLocks | undefined = config.redlock && redlockLeases(config.redlock, commandTimeoutMs);
  const holds = new Holds();
  const wakeups = new Wakeups(client, commandTimeoutMs);
  const changed = changedChannel(keyPrefix);
  const cache = new CompletedCache(config.cacheRecords);
  /** Subscribes to the changed channel at the first copy worth keeping; copies are kept once it is live. */
  let watching: Promise<unknown> | undefined;
  function watchChanges(): void {
    if (watching || !cache.enabled) return;
    const onChanged = (message: string) => {
      const key = storeKeyOf(keyPrefix, message);
      if (key !== undefined) cache.drop(key);
    };
    watching = wakeups.listen(changed, onChanged).then(
      () => {
        try {
          wakeups.onConnection(changed, (up) => cache.setLive(up));
          cache.setLive(true);
        } catch {
          // closed meanwhile: no copies
        }
      },
      () => {
        watching = undefined; // try again at the next copy
      },
    );
  }
  /**
   * A completed record read at `now` (asked at `askedAt`, when the cache's stamp was `stamp`): kept
   * for replays in this process, unless a change was heard while the read was on its way.
   */
  function remember(
    record: IdempotencyRecord | undefined,
    now: number,
    askedAt: number,
    stamp: number,
  ): void {
    if (record?.status !== 'completed' || !cache.enabled) return;
    watchChanges();
    cache.put(record, now, askedAt, stamp);
  }
  const expiredListeners = new Set<(record: IdempotencyRecord) => void>();
  const storeListeners = new Set<(event: StoreEvent) => void>();
  let sweeper: NodeJS.Timeout | undefined;
  const epochs = new EpochTracker();
  // Learn the epoch at once (standalone: one key), so a process that starts shortly before Redis
  // loses its data still knows the old epoch, though it has not granted anything yet. Without it,
  // such a process's first grant after the loss would just start a new epoch (epoch.ts). On
  // Cluster the epochs are per slot and are learned by the grants.
  const epochLearned: Promise<void> = client.isCluster
    ? Promise.resolve()
    : bounded(client, { operation: 'epoch', key: keyPrefix, timeoutMs: commandTimeoutMs }, () =>
        client.get(epochKey(keyPrefix, '', false)),
      ).then(
        (text) => epochs.learn(epochKey(keyPrefix, '', false), text ? parseEpoch(text) : undefined),
        () => undefined, // Redis not there yet: the grants learn it
      );
  /** Until when (Redis time) the last `store-reset` told listeners: one event per loss, not one per key. */
  let resetToldUntil = 0;
  /** The longest lease and ttl asked for: the default reset windows. */
  let longestLeaseMs = 0;
  let longestTtlMs = 0;
  let persistence: { report: PersistenceReport; at: number } | undefined;
  let inspecting: Promise<PersistenceReport> | undefined;
  /** Set while the last report said "not durable": later listeners are told too. */
  let notDurable: string | undefined;

  const keys = (key: string): KeySet => keysFor(keyPrefix, key, client.isCluster);

  async function call(
    script: ScriptCall,
    operation: string,
    key: string,
    onLate?: (reply: Reply) => void,
  ): Promise<Reply> {
    let raw: unknown;
    try {
      raw = await runScript(client, script, {
        operation,
        key,
        timeoutMs: commandTimeoutMs,
        onLate: onLate && ((value) => onLate(parseReply(value))),
      });
    } catch (error) {
      // A key of another layout (a hash record of @oncely/redis 0.1, or a foreign key under the
      // prefix): not an outage, so no fail-open may bypass it.
      if (/WRONGTYPE/.test(String((error as { cause?: unknown })?.cause ?? error))) {
        throw new ConfigError(
          `The Redis key of '${key}' under keyPrefix '${keyPrefix}' holds data of another layout (written by @oncely/redis 0.1, or by something else). ` +
            'Nothing was sent. Give this version its own keyPrefix (see the CHANGELOG), or let the old records expire.',
        );
      }
      throw error;
    }
    return parseReply(raw);
  }

  /**
   * The owner a write is checked against. Recording an outcome (`complete`, `extend`) also needs
   * the Redlock lock still held; giving the lease up (`release`, `markUnknown`) only needs the token.
   */
  function holdFor(key: string, token: number, needsLock = false): string {
    const hold = holds.get(key, token);
    if (needsLock && (hold?.lost || (hold?.lock && hold.lock.validUntil <= Date.now()))) {
      holds.take(key, token);
      throw new LeaseLostError(key, 'the Redlock lease lock was lost');
    }
    return hold?.owner ?? '';
  }

  /** The owner is the last field of the record's first line (scripts.ts): a newline would break the record. */
  function checkOwner(owner: string): void {
    if (typeof owner !== 'string' || owner.includes('\n')) {
      throw new ConfigError('the lease owner must be a string without a newline. Nothing was sent.');
    }
  }

  /** An operator's compare-and-set: the record is gone, or changed since it was read. */
  function unchangedOr(reply: Reply, key: string): void {
    if (reply.outcome === 'gone') throw new RecordNotFoundError(key);
    if (reply.outcome === 'changed') throw new RecordChangedError(key, Number(reply.rest[1]), reply.rest[0]!);
  }

  function lostIf(reply: Reply, key: string, token: number): void {
    if (reply.outcome !== 'lost') return;
    void unlock(holds.take(key, token)?.lock);
    throw new LeaseLostError(key, reply.rest[0]);
  }

  async function unlock(lock: LeaseLock | undefined): Promise<void> {
    await lock?.release().catch(() => undefined); // it lapses by itself anyway
  }

  /**
   * Redlock mode: the lease is only ours once a quorum locked it. A previous holder's lock lapses
   * shortly after its record lease (both are extended together), so a held lock is retried for up
   * to `commandTimeout`; a quorum that does not answer fails at once.
   */
  async function lockLease(key: string, leaseMs: number): Promise<LeaseLock> {
    const started = Date.now();
    for (;;) {
      try {
        return await leases!.acquire(keys(key).lock, leaseMs);
      } catch (error) {
        const retry = error instanceof LeaseHeldError && Date.now() - started < commandTimeoutMs;
        if (!retry) throw new StoreUnavailableError('lease-lock', error, key);
        await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
      }
    }
  }

  /** Records the grant; in Redlock mode also locks the lease, undoing the grant if the quorum refuses. */
  async function grant(
    record: IdempotencyRecord,
    owner: string,
    leaseMs: number,
    ttlMs: number,
    answeredAt: number,
  ) {
    const { key, fencingToken: token } = record;
    const hold = {
      owner,
      lock: undefined as LeaseLock | undefined,
      lost: false,
      staleAfter: Date.now() + ttlMs,
      record,
      redisNow: record.observedAt ?? 0,
      answeredAt,
    };
    holds.set(key, token, hold);
    if (!leases && !config.durability) return;
    try {
      await confirm(keys(key), key);
      if (leases) hold.lock = await lockLease(key, leaseMs);
    } catch (error) {
      holds.take(key, token);
      // Fail closed: nothing may be sent without a confirmed grant and the quorum lease. A fresh
      // reservation is given back; a taken-over record goes (back) to unknown, since an earlier
      // attempt may have run.
      const undo =
        record.attempts > 1
          ? store.markUnknown(key, token, 'the lease could not be confirmed or locked', ttlMs)
          : store.release(key, token);
      await undo.catch(() => undefined);
      throw error;
    }
  }

  function tell(event: StoreEvent): void {
    for (const listener of storeListeners) {
      try {
        listener(event);
      } catch {
        // A listener's bug must not break a store call.
      }
    }
  }

  /** Reads the persistence settings now; reports a store that turned (or is found) not durable. */
  function inspect(): Promise<PersistenceReport> {
    inspecting ??= inspectPersistence(client, commandTimeoutMs)
      .then((report) => {
        const wasDurable = persistence ? persistence.report.durable : true;
        persistence = { report, at: Date.now() };
        notDurable = report.durable
          ? undefined
          : `${report.detail}. A restart would forget every reservation (a re-run would write again): enable AOF (appendonly yes) or RDB snapshots.`;
        if (notDurable !== undefined && wasDurable) tell({ type: 'store-not-durable', detail: notDurable });
        return report;
      })
      .finally(() => {
        inspecting = undefined;
      });
    return inspecting;
  }

  /**
   * Before a grant: what the options require of the Redis. Without requirements the report is only
   * read (at first use, then every minute) in the background, off the call's path.
   */
  async function checkBeforeGrant(): Promise<void> {
    const needs = config.requireDurable || config.durability?.aof === true;
    const stale = !persistence || Date.now() - persistence.at > PERSISTENCE_EVERY_MS;
    if (!needs) {
      if (stale && !inspecting) inspect().catch(() => undefined);
      return;
    }
    let report = persistence?.report;
    if (!report) report = await inspect();
    else if (stale && !inspecting) inspect().catch(() => undefined);
    if (config.requireDurable && !report.durable) throw new StoreNotDurableError(report);
    if (config.durability?.aof) {
      if (compareVersions(report.version, '7.2') < 0) {
        throw new ConfigError(
          `durability: 'aof' confirms each reservation with WAITAOF, which needs Redis 7.2 or later; this Redis is ${report.version}. ` +
            'Nothing was sent. Upgrade Redis, or use durability: { replicas: n } (WAIT).',
        );
      }
      if (!report.aof) {
        throw new ConfigError(
          `durability: 'aof' needs AOF on every master (${report.detail}). Nothing was sent. Set appendonly yes, or drop the option.`,
        );
      }
    }
  }

  /** ARGV of a grant about the epoch: the epoch this instance saw, a fresh id, and the reset windows. */
  function epochArgs(ekey: string, leaseMs: number, ttlMs: number) {
    longestLeaseMs = Math.max(longestLeaseMs, leaseMs);
    longestTtlMs = Math.max(longestTtlMs, ttlMs);
    return {
      ...epochs.args(ekey),
      resetRefuseMs: config.resetWindowMs ?? Math.max(MIN_RESET_WINDOW_MS, longestLeaseMs),
      resetUnknownMs: config.resetUnknownMs ?? Math.max(MIN_RESET_UNKNOWN_MS, longestTtlMs),
    };
  }

  /** Reads the epoch off a grant's reply; reports a loss once; refuses during the reset window. */
  function checkEpoch(reply: Reply, ekey: string, operation: string, key: string, token: number): void {
    const { epoch: answered, found } = epochOf(reply);
    const news = epochs.observe(ekey, answered, reply.now, token);
    const epoch: Epoch | undefined = answered ?? epochs.known(ekey);
    const why = describeFinding(found);
    if (news && epoch && reply.now >= resetToldUntil) {
      resetToldUntil = Math.max(epoch.refuseUntil, reply.now + 1);
      tell({
        type: 'store-reset',
        key,
        detail:
          `${why}. Grants of keys the store no longer has are refused until ${new Date(epoch.refuseUntil).toISOString()} ` +
          `and treated as unknown until ${new Date(epoch.unknownUntil).toISOString()} (Redis' clock).`,
      });
    }
    if (reply.outcome === 'reset') {
      throw new StoreResetError(
        operation,
        key,
        why,
        reply.now,
        epoch?.refuseUntil ?? reply.now,
        epoch?.unknownUntil ?? reply.now,
      );
    }
  }

  /**
   * `durability`: waits until the grant is on `replicas` replicas (WAIT) and/or fsynced to the AOF
   * (WAITAOF). Both wait for every earlier write on this connection, the grant included. On Cluster
   * the command is pipelined behind a read of the record's key, so it runs on the record's master.
   */
  async function confirm(k: KeySet, key: string): Promise<void> {
    const d = config.durability;
    if (!d) return;
    const command = d.aof ? ['WAITAOF', 1, d.replicas, d.timeoutMs] : ['WAIT', d.replicas, d.timeoutMs];
    const [name, ...args] = command as [string, ...number[]];
    let answer: unknown;
    try {
      answer = await bounded(client, { operation: 'confirm', key, timeoutMs: commandTimeoutMs }, async () => {
        if (!client.isCluster) return client.call(name, ...args);
        const results = (await client
          .pipeline()
          .exists(k.record)
          .call(name, ...args)
          .exec()) as [Error | null, unknown][];
        const [error, value] = results[1]!;
        if (error) throw error;
        return value;
      });
    } catch (error) {
      const text = String((error as { cause?: unknown })?.cause ?? error);
      if (/unknown command|wrong number/i.test(text)) {
        throw new ConfigError(
          `durability: ${name} is not supported by this Redis (${text}). Nothing was sent.`,
        );
      }
      throw error;
    }
    const [local, replicas] = d.aof ? (answer as [number, number]).map(Number) : [1, Number(answer)];
    if (local! < 1 || replicas! < d.replicas) {
      const wanted = d.aof ? `1 local fsync and ${d.replicas} replica(s)` : `${d.replicas} replica(s)`;
      throw new ReservationNotConfirmedError(
        'confirm',
        key,
        `${[name, ...args].join(' ')} answered ${JSON.stringify(answer)}: wanted ${wanted} within ${d.timeoutMs} ms`,
      );
    }
  }

  /** `markWaiter`: the caller is about to wait for the record to leave in_flight (READ). */
  async function read(
    key: string,
    markWaiter = false,
  ): Promise<{ record: IdempotencyRecord | undefined; now: number }> {
    const askedAt = performance.now();
    const stamp = cache.stamp;
    const reply = await call(args(READ, keys(key), { markWaiter: markWaiter ? '1' : '0' }), 'get', key);
    const record = reply.outcome === 'ok' ? recordOf(reply) : undefined;
    remember(record, reply.now, askedAt, stamp);
    return { record, now: reply.now };
  }

  function publishExpired(record: IdempotencyRecord): void {
    for (const listener of expiredListeners) listener(record);
  }

  async function sweep(): Promise<number> {
    return sweepExpired(client, keyPrefix, commandTimeoutMs, publishExpired);
  }

  const store: RedisStore = {
    keyPrefix,

    async reserve(input: ReserveInput): Promise<ReserveResult> {
      // A replay of a record this process saw completed costs no round trip (cache.ts). Only the
      // same payload is answered here: anything else needs the store's current word.
      const copy = cache.get(input.key);
      if (copy && copy.fingerprint === input.fingerprint) return { acquired: false, record: copy };
      checkOwner(input.owner);
      await checkBeforeGrant();
      await epochLearned;
      const k = keys(input.key);
      const reserve = args(RESERVE, k, {
        identity: identityLine(input),
        owner: input.owner,
        leaseMs: input.leaseMs,
        ttlMs: input.ttlMs,
        providerKey: providerKeyField(input.providerKey),
        graceMs: config.expiredUnknownGraceMs,
        ...epochArgs(k.epoch, input.leaseMs, input.ttlMs),
      });
      // A reservation that lands after we reported the store unavailable is given back: nothing was sent.
      const giveBack = (late: Reply) => {
        if (late.outcome !== 'acquired') return;
        const token = unpackRecord(late.rest[0]!).fencingToken;
        const release = args(RELEASE, k, { token, owner: input.owner, channel: k.channel });
        void call(release, 'release', input.key).catch(() => undefined);
      };
      const askedAt = performance.now();
      const stamp = cache.stamp;
      const reply = await call(reserve, 'reserve', input.key, giveBack);
      const answeredAt = performance.now();
      // A refusal ('reset') carries no record; it throws in checkEpoch.
      const granted = reply.rest[0] ? recordOf(reply) : undefined;
      if (reply.outcome !== 'exists' || reply.rest[1]) {
        checkEpoch(reply, k.epoch, 'reserve', input.key, granted?.fencingToken ?? 0);
      }
      const record = granted ?? recordOf(reply);
      if (reply.outcome !== 'acquired') {
        remember(record, reply.now, askedAt, stamp);
        return { acquired: false, record };
      }
      await grant(record, input.owner, input.leaseMs, input.ttlMs, answeredAt);
      return { acquired: true, record };
    },

    async complete(key: string, token: number, input: CompleteInput): Promise<IdempotencyRecord> {
      const owner = holdFor(key, token, true);
      const hold = holds.get(key, token);
      const k = keys(key);
      const responseJson = JSON.stringify(input.response);
      const audit = auditJson(input.audit);
      // Redis' clock estimated from the grant's reply and the local monotonic clock since that reply
      // arrived: Redis ran the grant before, so the estimate is never later than Redis' own now.
      const now = hold ? Math.floor(hold.redisNow + (performance.now() - hold.answeredAt)) : undefined;
      const complete = args(COMPLETE, k, {
        token,
        owner,
        responseJson,
        callerNow: now ?? '',
        ttlMs: input.ttlMs,
        providerKey: providerKeyField(input.providerKey),
        auditJson: audit,
        channel: k.channel,
        wantRecord: hold ? '0' : '1',
      });
      const askedAt = performance.now();
      const stamp = cache.stamp;
      const reply = await call(complete, 'complete', key);
      lostIf(reply, key, token);
      void unlock(holds.take(key, token)?.lock);
      const record: IdempotencyRecord = hold
        ? {
            ...hold.record,
            status: 'completed',
            response: input.response,
            leaseOwner: null,
            leaseUntil: null,
            expiresAt: reply.now + input.ttlMs,
            updatedAt: reply.now,
            audit: input.audit ? [...hold.record.audit, input.audit] : hold.record.audit,
            observedAt: reply.now,
          }
        : recordOf(reply);
      if (input.providerKey !== undefined && input.providerKey !== '') record.providerKey = input.providerKey;
      remember(record, reply.now, askedAt, stamp);
      return record;
    },

    async release(key: string, token: number): Promise<void> {
      const owner = holdFor(key, token);
      const k = keys(key);
      const reply = await call(args(RELEASE, k, { token, owner, channel: k.channel }), 'release', key);
      cache.drop(key);
      lostIf(reply, key, token);
      void unlock(holds.take(key, token)?.lock);
    },

    async extend(key: string, token: number, leaseMs: number): Promise<number> {
      const owner = holdFor(key, token, true);
      const reply = await call(args(EXTEND, keys(key), { token, owner, leaseMs }), 'extend', key);
      lostIf(reply, key, token);
      const hold = holds.get(key, token);
      if (hold?.lock) {
        try {
          await hold.lock.extend(leaseMs);
        } catch {
          hold.lost = true;
          throw new LeaseLostError(key, 'the Redlock lease lock could not be extended');
        }
      }
      return Number(reply.rest[0]);
    },

    async markUnknown(key: string, token: number, cause: string, ttlMs: number): Promise<void> {
      const owner = holdFor(key, token);
      const k = keys(key);
      const graceMs = config.expiredUnknownGraceMs;
      const markUnknown = args(MARK_UNKNOWN, k, { token, owner, cause, ttlMs, graceMs, channel: k.channel });
      const reply = await call(markUnknown, 'markUnknown', key);
      cache.drop(key);
      lostIf(reply, key, token);
      void unlock(holds.take(key, token)?.lock);
    },

    async takeOver(key: string, input: TakeOverInput): Promise<TakeOverResult> {
      checkOwner(input.owner);
      cache.drop(key);
      await checkBeforeGrant();
      await epochLearned;
      const k = keys(key);
      const takeOver = args(TAKE_OVER, k, {
        expectedToken: input.expectedToken,
        expectedStatus: input.expectedStatus,
        owner: input.owner,
        leaseMs: input.leaseMs,
        ttlMs: input.ttlMs,
        fingerprint: input.fingerprint ?? '',
        providerKey: providerKeyField(input.providerKey),
        bumpRevision: input.bumpRevision ? '1' : '0',
        consumeGrant: input.consumeGrant ? '1' : '0',
        auditJson: auditJson(input.audit, true),
        graceMs: config.expiredUnknownGraceMs,
        changedChannel: changed,
        ...epochArgs(k.epoch, input.leaseMs, input.ttlMs),
      });
      const reply = await call(takeOver, 'takeOver', key);
      const answeredAt = performance.now();
      const granted = reply.outcome === 'won' ? recordOf(reply) : undefined;
      if (granted || reply.outcome === 'reset') {
        checkEpoch(reply, k.epoch, 'takeOver', key, granted?.fencingToken ?? 0);
      }
      if (reply.outcome === 'gone') return { won: false, record: undefined };
      const record = granted ?? recordOf(reply);
      if (reply.outcome !== 'won') return { won: false, record };
      await grant(record, input.owner, input.leaseMs, input.ttlMs, answeredAt);
      return { won: true, record };
    },

    async get(key: string): Promise<IdempotencyRecord | undefined> {
      return (await read(key)).record;
    },

    async waitFor(
      key: string,
      timeoutMs: number,
      signal?: AbortSignal,
    ): Promise<IdempotencyRecord | undefined> {
      const deadline = Date.now() + timeoutMs;
      if (timeoutMs <= 0 || signal?.aborted) return store.get(key);
      const bell = new Doorbell();
      // Subscribe before reading, so a completion between the two is not missed. Without a
      // subscription (store trouble) the bounded poll still finds the outcome.
      const stop = await wakeups.listen(keys(key).channel, bell.ring).catch(() => () => undefined);
      try {
        for (;;) {
          const heard = bell.message;
          // A completion's message carries the record: no read needed to answer it.
          if (heard.startsWith('completed\n')) {
            const record = unpackRecord(heard.slice('completed\n'.length));
            record.observedAt = record.updatedAt;
            if (record.key === key) return record;
          }
          const { record, now } = await read(key, true);
          const leaseLeft = (record?.leaseUntil ?? 0) - now;
          const left = deadline - Date.now();
          if (!record || !leaseLive(record, now) || left <= 0 || signal?.aborted) return record;
          await bell.wait(Math.min(left, leaseLeft + 1, config.pollIntervalMs), signal);
        }
      } finally {
        stop();
      }
    },

    list(filter: ListFilter = {}): AsyncIterable<IdempotencyRecord> {
      return scanRecords(client, keyPrefix, filter, read);
    },

    // Typed by IdempotencyStore['resolve'] (the store's declared type).
    async resolve(key, resolution, audit, expected) {
      const k = keys(key);
      const completed = resolution.as === 'completed' ? resolution : undefined;
      const resolve = args(RESOLVE, k, {
        resolveAs: resolution.as,
        responseJson: completed ? JSON.stringify(completed.response) : '',
        ttlMs: completed ? completed.ttlMs : 0,
        auditJson: auditJson(audit),
        channel: k.channel,
        changedChannel: changed,
        expectedToken: expected.token,
        expectedStatus: expected.status,
        epochKnown: epochs.args(k.epoch).epochKnown,
      });
      cache.drop(key);
      const reply = await call(resolve, 'resolve', key);
      unchangedOr(reply, key);
      return reply.outcome === 'deleted' ? undefined : recordOf(reply);
    },

    async grantOverride(key, grant, audit, expected) {
      const grantOverride = args(GRANT_OVERRIDE, keys(key), {
        grantJson: JSON.stringify({ reason: grant.reason, reviewer: grant.reviewer }),
        auditJson: auditJson(audit),
        expectedToken: expected.token,
        expectedStatus: expected.status,
        changedChannel: changed,
      });
      cache.drop(key);
      const reply = await call(grantOverride, 'grantOverride', key);
      unchangedOr(reply, key);
      return recordOf(reply);
    },

    /** Records expire in Redis by themselves; this reports undecided ones that expired and returns how many. */
    purgeExpired: sweep,

    onExpiredUnknown(listener) {
      expiredListeners.add(listener);
      sweeper ??= setInterval(() => void sweep().catch(() => undefined), config.sweepEveryMs).unref();
      return () => {
        expiredListeners.delete(listener);
        if (expiredListeners.size === 0) {
          clearInterval(sweeper);
          sweeper = undefined;
        }
      };
    },

    persistence: inspect,

    onStoreEvent(listener) {
      storeListeners.add(listener);
      const known = notDurable;
      if (known !== undefined) {
        queueMicrotask(() => {
          if (storeListeners.has(listener) && notDurable === known) {
            try {
              listener({ type: 'store-not-durable', detail: known });
            } catch {
              // as in tell()
            }
          }
        });
      }
      return () => {
        storeListeners.delete(listener);
      };
    },

    async close() {
      clearInterval(sweeper);
      sweeper = undefined;
      expiredListeners.clear();
      storeListeners.clear();
      wakeups.close();
    },
  };
  return store;
}
