import { ConfigError, type Duration, toMs } from '@oncely/core';
import type { RedisClient } from './client.js';
import { checkKeyPrefix } from './keys.js';
import type { RedlockOptions } from './lease.js';

export interface RedisStoreOptions {
  /** An ioredis (5 or 6) `Redis` or `Cluster` the caller owns: the store never closes it. */
  client: RedisClient;
  /** Several independent masters holding the in-flight lease as a Redlock quorum lock. */
  redlock?: RedlockOptions | undefined;
  /** Prefix of every key; must not contain `{` or `}`. Default `'oncely:'`. */
  keyPrefix?: string | undefined;
  /** Bound on each Redis call; past it the call fails with `StoreUnavailableError`. Default `'2s'`. */
  commandTimeout?: Duration | undefined;
  /** @deprecated Use `commandTimeout` (a number of ms works there too). */
  commandTimeoutMs?: number | undefined;
  /** Fallback poll while waiting, in case a wake-up message is missed. Default `'1s'`. */
  pollInterval?: Duration | undefined;
  /** @deprecated Use `pollInterval`. */
  pollIntervalMs?: number | undefined;
  /** How long an undecided record is remembered after it expired, to be reported. Default `'24h'`. */
  expiredUnknownGrace?: Duration | undefined;
  /** @deprecated Use `expiredUnknownGrace`. */
  expiredUnknownGraceMs?: number | undefined;
  /** How often the store looks for expired undecided records while someone listens. Default `'60s'`. */
  sweepEvery?: Duration | undefined;
  /** @deprecated Use `sweepEvery`. */
  sweepEveryMs?: number | undefined;
  /**
   * Refuse to grant leases on a Redis that would forget them on a restart (no AOF and no RDB
   * snapshots, or evicting keys), checked at first use and every minute after: reserve and takeOver
   * fail with `StoreNotDurableError` (a `ConfigError`), nothing sent. Default `false`: the store
   * only reports it (`onStoreEvent` → `store-not-durable`).
   */
  requireDurable?: boolean | undefined;
  /**
   * Confirm every grant (reserve, takeOver) before it is used: `'aof'` waits until the master has
   * fsynced it to its AOF (`WAITAOF 1 0`, Redis ≥ 7.2); `{ replicas: n }` until `n` replicas have
   * it (`WAIT n`); `{ replicas: n, aof: true }` both (`WAITAOF 1 n`). Not confirmed within
   * `timeout` (default half of `commandTimeout`): the grant is given back and the call fails
   * with `ReservationNotConfirmedError` (a `StoreUnavailableError`), nothing sent. Default: off.
   */
  durability?: 'aof' | DurabilityOptions | undefined;
  /**
   * After the store lost records (its epoch changed), how long grants of keys it no longer has are
   * refused (`StoreResetError`), because writes reserved before the loss may still be running.
   * Default: the longest lease this store instance was asked for, at least 60 s.
   */
  resetWindow?: Duration | undefined;
  /** @deprecated Use `resetWindow`. */
  resetWindowMs?: number | undefined;
  /**
   * After that window, how long keys the store no longer has are written as `unknown` instead of
   * reserved (an attempt before the loss may have executed: the engine reconciles or refuses, never
   * sends blindly). Default: the longest ttl this store instance was asked for, at least 24 h. `0`: off
   * (after the window such keys are sent again).
   */
  resetUnknown?: Duration | undefined;
  /** @deprecated Use `resetUnknown`. */
  resetUnknownMs?: number | undefined;
  /**
   * Completed records this process saw, kept to answer its own replays without a round trip
   * (cache.ts): `{ maxRecords }` (default 1,000, least recently used first out), or `false`.
   * A copy goes when this process or an operator changes the record (the store listens on one
   * channel per prefix for that), when the subscription drops, and at the record's expiry.
   */
  cache?: false | { maxRecords?: number | undefined } | undefined;
}

export interface DurabilityOptions {
  replicas: number;
  aof?: boolean | undefined;
  /** How long to wait for the confirmation; less than `commandTimeout`. */
  timeout?: Duration | undefined;
  /** @deprecated Use `timeout`. */
  timeoutMs?: number | undefined;
}

export interface ResolvedDurability {
  replicas: number;
  aof: boolean;
  timeoutMs: number;
}

export interface ResolvedOptions {
  client: RedisClient;
  redlock: RedlockOptions | undefined;
  keyPrefix: string;
  commandTimeoutMs: number;
  pollIntervalMs: number;
  expiredUnknownGraceMs: number;
  sweepEveryMs: number;
  requireDurable: boolean;
  durability: ResolvedDurability | undefined;
  resetWindowMs: number | undefined;
  resetUnknownMs: number | undefined;
  /** 0: no cache. */
  cacheRecords: number;
}

const DEFAULTS = {
  keyPrefix: 'oncely:',
  commandTimeoutMs: 2_000,
  pollIntervalMs: 1_000,
  expiredUnknownGraceMs: 24 * 60 * 60 * 1000,
  sweepEveryMs: 60_000,
  cacheRecords: 1_000,
};

/** Durations that must be more than 0; the reset windows may be 0. */
const POSITIVE = [
  ['commandTimeout', 'commandTimeoutMs'],
  ['pollInterval', 'pollIntervalMs'],
  ['expiredUnknownGrace', 'expiredUnknownGraceMs'],
  ['sweepEvery', 'sweepEveryMs'],
] as const;

export function resolveOptions(options: RedisStoreOptions): ResolvedOptions {
  if (!options || typeof options.client?.defineCommand !== 'function') {
    throw new ConfigError('redisStore needs { client }: an ioredis Redis or Cluster instance');
  }
  if (options.redlock && (!Array.isArray(options.redlock.clients) || options.redlock.clients.length === 0)) {
    throw new ConfigError('redlock.clients must be a non-empty array of ioredis clients');
  }
  if (options.requireDurable !== undefined && typeof options.requireDurable !== 'boolean') {
    throw new ConfigError('requireDurable must be a boolean');
  }
  const resolved: ResolvedOptions = {
    ...DEFAULTS,
    client: options.client,
    redlock: options.redlock,
    keyPrefix: checkKeyPrefix(options.keyPrefix ?? DEFAULTS.keyPrefix),
    requireDurable: options.requireDurable === true,
    durability: undefined,
    resetWindowMs: durationOption(options, 'resetWindow', 'non-negative'),
    resetUnknownMs: durationOption(options, 'resetUnknown', 'non-negative'),
  };
  for (const [name, resolvedName] of POSITIVE) {
    resolved[resolvedName] = durationOption(options, name, 'positive') ?? resolved[resolvedName];
  }
  resolved.durability = resolveDurability(options.durability, resolved.commandTimeoutMs);
  resolved.cacheRecords = resolveCache(options.cache);
  return resolved;
}

type Bound = 'positive' | 'non-negative';

/**
 * A duration option given as `name` (a `Duration`) or as its deprecated alias `<name>Ms` (a number
 * of ms, checked as it always was), never both; `undefined` when neither is given.
 */
function durationOption(given: object, name: string, bound: Bound, where = ''): number | undefined {
  const options = given as Record<string, unknown>;
  const label = where + name;
  const alias = `${label}Ms`;
  const value = options[name];
  const old = options[`${name}Ms`];
  if (value !== undefined && old !== undefined) {
    throw new ConfigError(
      `${label} and ${alias} are one option (${alias} is its deprecated name): give only ${label}`,
    );
  }
  if (old !== undefined) return legacyMs(old, alias, bound);
  if (value === undefined) return undefined;
  if (typeof value !== 'number' && typeof value !== 'string') {
    throw new ConfigError(`${label} must be milliseconds or a duration like '500ms', '2s', '24h'`);
  }
  const ms = toMs(value, label);
  if (bound === 'positive' && ms <= 0) throw new ConfigError(`${label} must be more than 0`);
  return ms;
}

function legacyMs(value: unknown, name: string, bound: Bound): number {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    (bound === 'positive' && value === 0)
  ) {
    throw new ConfigError(
      bound === 'positive'
        ? `${name} must be a positive number of ms`
        : `${name} must be a number of ms, 0 or more`,
    );
  }
  return value;
}

function resolveCache(given: RedisStoreOptions['cache']): number {
  if (given === undefined) return DEFAULTS.cacheRecords;
  if (given === false) return 0;
  const max =
    typeof given === 'object' && given !== null ? (given.maxRecords ?? DEFAULTS.cacheRecords) : Number.NaN;
  if (!Number.isInteger(max) || max < 0) {
    throw new ConfigError('cache must be false or { maxRecords: n } with n a whole number, 0 or more');
  }
  return max;
}

function resolveDurability(
  given: RedisStoreOptions['durability'],
  commandTimeoutMs: number,
): ResolvedDurability | undefined {
  if (given === undefined) return undefined;
  const shape = given === 'aof' ? { replicas: 0, aof: true } : given;
  if (typeof shape !== 'object' || shape === null) {
    throw new ConfigError("durability must be 'aof' or { replicas: n, aof?: boolean, timeout?: duration }");
  }
  const { replicas, aof = false } = shape as DurabilityOptions;
  if (!Number.isInteger(replicas) || replicas < 0 || (!aof && replicas < 1)) {
    throw new ConfigError('durability.replicas must be a whole number, at least 1 (or 0 with aof: true)');
  }
  const timeoutMs =
    durationOption(shape, 'timeout', 'non-negative', 'durability.') ?? Math.floor(commandTimeoutMs / 2);
  if (timeoutMs <= 0 || timeoutMs >= commandTimeoutMs) {
    const name = (shape as DurabilityOptions).timeoutMs === undefined ? 'timeout' : 'timeoutMs';
    throw new ConfigError(
      `durability.${name} must be more than 0 and less than commandTimeout (${commandTimeoutMs} ms)`,
    );
  }
  return { replicas, aof: aof === true, timeoutMs };
}
