import { gotDriver, gotErrors } from './drivers/got.js';
import { runConformance } from './suite.js';

runConformance(gotDriver, gotErrors);
