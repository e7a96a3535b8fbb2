export { findOncelyError as oncelyErrorOf } from '@oncely/core/plugin';
export type { OncelyRequestOptions, OncelyResponseInfo } from './augment.js';
export {
  type AxiosIdempotencyOptions,
  type OncelyAdapterOptions,
  oncelyAdapter,
  withIdempotency,
} from './install.js';
export { REFUSAL_HEADER, type Refusals } from './response.js';
