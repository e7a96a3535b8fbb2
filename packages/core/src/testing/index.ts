export { type StoreContractOptions, storeContract } from './contract.js';
export { wrapStore } from './wrap.js';
