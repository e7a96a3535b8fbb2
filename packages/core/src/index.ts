export { canonicalBody, isOneShotBody } from './canonical.js';
export {
  type AttemptClass,
  classifyResponse,
  NOT_EXECUTED_STATUSES,
  NOT_SENT,
  NOT_SENT_ERROR_CODES,
  wasNotSent,
} from './classify.js';
export { CONFLICT_TABLE, type ConflictAction, type RecordState } from './conflict.js';
export { DEFAULTS } from './defaults.js';
export { type Duration, toMs } from './duration.js';
export { createIdempotency } from './engine/index.js';
export * from './errors.js';
export { EVENT_CHANNEL, type OncelyEvent, type OncelyEventType } from './events.js';
export {
  definePreset,
  existingResourceUrl,
  type ProviderPreset,
  providerPresets,
  type ResponseMatcher,
  uuidFrom,
} from './providers.js';
export { effectiveStatus, expiredUndecided, isTakeable, leaseLive } from './record.js';
export { REPLAYED_HEADER } from './responses.js';
export { SDK_KEY_PREFIXES } from './sdk-keys.js';
export { isSecretQueryName, isSecretResponseHeader, redactHeaderValue, unsafeHeader } from './secrets.js';
export { type MemoryStore, type MemoryStoreOptions, memoryStore } from './store/memory.js';
export { normaliseTarget } from './target.js';
export * from './types.js';
