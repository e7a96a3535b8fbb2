import { memoryStore } from '@oncely/core';
import { storeContract } from '@oncely/core/testing';

const store = memoryStore();
storeContract('memory', () => store, { teardown: () => store.close() });
