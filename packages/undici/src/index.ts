import './augment.js';

export { CONTROL_HEADER_PREFIX, type OncelyRequestOptions, oncelyHeaders } from './control.js';
export { isReplayed, oncelyErrorOf } from './errors.js';
export { idempotency, type UndiciIdempotencyOptions } from './interceptor.js';
export { InterceptorOrderError } from './send.js';
