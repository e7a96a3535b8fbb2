export { findOncelyError as oncelyErrorOf, isReplayed } from '@oncely/core/plugin';
export { type OncelyRequestOptions, oncely } from './context.js';
export { type GotExtension, type GotPluginOptions, idempotency } from './plugin.js';
