export { findOncelyError as oncelyErrorOf } from '@oncely/core/plugin';
export type { OncelyRequestOptions, OncelyResponseInfo } from './augment.js';
export { withIdempotency } from './install.js';
