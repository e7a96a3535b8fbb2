export type { OncelyRequestOptions, OncelyResponseInfo } from './augment.js';
export { oncelyErrorOf } from './errors.js';
export { withIdempotency } from './install.js';
