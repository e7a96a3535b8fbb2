import './augment.js';

export { findOncelyError as oncelyErrorOf, isReplayed } from '@oncely/core/plugin';
export { CONTROL_HEADER_PREFIX, type OncelyRequestOptions, oncelyHeaders } from './control.js';
export { idempotency, type UndiciIdempotencyOptions } from './interceptor.js';
export { type OncelyFetchOptions, oncelyFetch, REFUSAL_HEADER } from './oncely-fetch.js';
export { InterceptorOrderError } from './send.js';
