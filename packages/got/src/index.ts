export { type OncelyRequestOptions, oncely } from './context.js';
export { isReplayed, oncelyErrorOf } from './errors.js';
export { type GotPluginOptions, idempotency } from './plugin.js';
