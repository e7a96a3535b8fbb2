import { undiciDriver, undiciErrors } from './drivers/undici.js';
import { runConformance } from './suite.js';

runConformance(undiciDriver, undiciErrors);
