export type { RedisClient } from './client.js';
export type { LeaseLock, LeaseLocks, RedlockOptions } from './lease.js';
export type { RedisStoreOptions } from './options.js';
export { type RedisStore, redisStore } from './store.js';
