export { type BodyReads, isIterableBody, isReusableBody, type ReadBody, readBody } from './body.js';
export { findOncelyError, markNotSent } from './errors.js';
export { applyHeaderEdits, editHeaderPairs, type HeaderEdits, headerEdits } from './headers.js';
export { readKeyedBody } from './keyed-body.js';
export { type OncelyRequestOptions, readRequestOptions } from './options.js';
export { REFUSAL_HEADER, refusalResponse } from './refusal.js';
export { isReplayed } from './replayed.js';
