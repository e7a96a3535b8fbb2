import { axiosDriver, axiosErrors } from './drivers/axios.js';
import { runConformance } from './suite.js';

runConformance(axiosDriver, axiosErrors);
