export { ATTRIBUTES, METRICS, type Outcome } from './attributes.js';
export { type InstrumentOptions, instrument } from './instrument.js';
export { type InstrumentStoreOptions, instrumentStore } from './store.js';
