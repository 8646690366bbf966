export {
  ADAMW_DEFAULTS,
  type AdamWOptions,
  Optimizer,
  type OptimizerOptions,
  SGD_DEFAULTS,
  type SgdOptions,
} from './optimizer.js';
export { cosineLr } from './schedule.js';
