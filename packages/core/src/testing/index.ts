export { type StoreContractOptions, storeContract } from './contract.js';
