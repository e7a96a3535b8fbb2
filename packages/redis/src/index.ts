export type { RedisClient } from './client.js';
export type { PersistenceReport } from './durability.js';
export { ReservationNotConfirmedError, StoreNotDurableError, StoreResetError } from './errors.js';
export type { LeaseLock, LeaseLocks, RedlockOptions } from './lease.js';
export type { DurabilityOptions, RedisStoreOptions } from './options.js';
export { type RedisStore, redisStore, type StoreEvent } from './store.js';
