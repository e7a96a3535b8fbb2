export type { Emulator, EmulatorEvent, EmulatorOptions, Written } from './emulator.js';
export type { FaultCounts, FaultName, FaultRates, Injection, WriteRequest } from './faults.js';
export { type PlainApiOptions, plainApi } from './plain-api.js';
export { type ReceivedRequest, type Served, type ServeOptions, serve } from './serve.js';
export type { EmulatorStats, KeyStats } from './stats.js';
export { KEY_IN_USE, KEY_MISMATCH, KEY_MISSING, type StripeLikeOptions, stripeLike } from './stripe-like.js';
