/**
 * The Redis store and the plugins are loaded by name at run time, so the harness runs (and says
 * what it skipped) while a package is still a skeleton. The shapes below are the documented
 * entry points: `redisStore({ client })`, `withIdempotency(axios, idem)`, `got.extend(idempotency(idem))`,
 * `new Agent().compose(idempotency(idem))`.
 */
import type { Idempotency, IdempotencyStore } from '@oncely/core';
import type { AxiosInstance } from 'axios';
import type { ExtendOptions, Got } from 'got';
import type { Redis } from 'ioredis';
import type { Dispatcher } from 'undici';

export type RedisStoreFactory = (options: { client: Redis }) => IdempotencyStore & {
  close?: () => unknown;
};

async function load<T>(name: string, pick: (mod: Record<string, unknown>) => T | undefined) {
  try {
    const mod = (await import(name)) as Record<string, unknown>;
    return pick(mod);
  } catch {
    return undefined;
  }
}

const fn = <T>(value: unknown): T | undefined => (typeof value === 'function' ? (value as T) : undefined);

export const loadRedisStore = () =>
  load<RedisStoreFactory>('@oncely/redis', (m) => fn(m.redisStore) ?? fn(m.createRedisStore));

export const loadAxiosPlugin = () =>
  load<(instance: AxiosInstance, idem: Idempotency) => AxiosInstance>('@oncely/axios', (m) =>
    fn(m.withIdempotency),
  );

export const loadGotPlugin = () =>
  load<(idem: Idempotency) => ExtendOptions>('@oncely/got', (m) => fn(m.idempotency));

export const loadUndiciPlugin = () =>
  load<(idem: Idempotency) => Dispatcher.DispatcherComposeInterceptor>('@oncely/undici', (m) =>
    fn(m.idempotency),
  );

export type { Got };
