import { ConfigError } from '@oncely/core';
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
  /** Bound on each Redis call; past it the call fails with `StoreUnavailableError`. Default 2000 ms. */
  commandTimeoutMs?: number | undefined;
  /** Fallback poll while waiting, in case a wake-up message is missed. Default 1000 ms. */
  pollIntervalMs?: number | undefined;
  /** How long an undecided record is remembered after it expired, to be reported. Default 24 h. */
  expiredUnknownGraceMs?: number | undefined;
  /** How often the store looks for expired undecided records while someone listens. Default 60 s. */
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
   * `timeoutMs` (default half of `commandTimeoutMs`): the grant is given back and the call fails
   * with `ReservationNotConfirmedError` (a `StoreUnavailableError`), nothing sent. Default: off.
   */
  durability?:
    | 'aof'
    | { replicas: number; aof?: boolean | undefined; timeoutMs?: number | undefined }
    | undefined;
  /**
   * After the store lost records (its epoch changed), how long grants of keys it no longer has are
   * refused (`StoreResetError`), because writes reserved before the loss may still be running.
   * Default: the longest lease this store instance was asked for, at least 60 s.
   */
  resetWindowMs?: number | undefined;
  /**
   * After that window, how long keys the store no longer has are written as `unknown` instead of
   * reserved (an attempt before the loss may have executed: the engine reconciles or refuses, never
   * sends blindly). Default: the longest ttl this store instance was asked for, at least 24 h. `0`: off
   * (after the window such keys are sent again).
   */
  resetUnknownMs?: number | undefined;
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
}

const DEFAULTS = {
  keyPrefix: 'oncely:',
  commandTimeoutMs: 2_000,
  pollIntervalMs: 1_000,
  expiredUnknownGraceMs: 24 * 60 * 60 * 1000,
  sweepEveryMs: 60_000,
};

const POSITIVE_MS = ['commandTimeoutMs', 'pollIntervalMs', 'expiredUnknownGraceMs', 'sweepEveryMs'] as const;

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
    resetWindowMs: nonNegative(options.resetWindowMs, 'resetWindowMs'),
    resetUnknownMs: nonNegative(options.resetUnknownMs, 'resetUnknownMs'),
  };
  for (const name of POSITIVE_MS) {
    const value = options[name];
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value <= 0)
      throw new ConfigError(`${name} must be a positive number of ms`);
    resolved[name] = value;
  }
  resolved.durability = resolveDurability(options.durability, resolved.commandTimeoutMs);
  return resolved;
}

function nonNegative(value: number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ConfigError(`${name} must be a number of ms, 0 or more`);
  }
  return value;
}

function resolveDurability(
  given: RedisStoreOptions['durability'],
  commandTimeoutMs: number,
): ResolvedDurability | undefined {
  if (given === undefined) return undefined;
  const shape = given === 'aof' ? { replicas: 0, aof: true } : given;
  if (typeof shape !== 'object' || shape === null) {
    throw new ConfigError("durability must be 'aof' or { replicas: n, aof?: boolean, timeoutMs?: ms }");
  }
  const {
    replicas,
    aof = false,
    timeoutMs = Math.floor(commandTimeoutMs / 2),
  } = shape as {
    replicas: number;
    aof?: boolean;
    timeoutMs?: number;
  };
  if (!Number.isInteger(replicas) || replicas < 0 || (!aof && replicas < 1)) {
    throw new ConfigError('durability.replicas must be a whole number, at least 1 (or 0 with aof: true)');
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs >= commandTimeoutMs) {
    throw new ConfigError(
      `durability.timeoutMs must be more than 0 and less than commandTimeoutMs (${commandTimeoutMs} ms)`,
    );
  }
  return { replicas, aof: aof === true, timeoutMs };
}
