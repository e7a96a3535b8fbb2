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
}

export interface ResolvedOptions {
  client: RedisClient;
  redlock: RedlockOptions | undefined;
  keyPrefix: string;
  commandTimeoutMs: number;
  pollIntervalMs: number;
  expiredUnknownGraceMs: number;
  sweepEveryMs: number;
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
  const resolved: ResolvedOptions = {
    ...DEFAULTS,
    client: options.client,
    redlock: options.redlock,
    keyPrefix: checkKeyPrefix(options.keyPrefix ?? DEFAULTS.keyPrefix),
  };
  for (const name of POSITIVE_MS) {
    const value = options[name];
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value <= 0)
      throw new ConfigError(`${name} must be a positive number of ms`);
    resolved[name] = value;
  }
  return resolved;
}
