export {
  copyParams,
  FINETUNE_DEFAULTS,
  type FinetuneOptions,
  type FinetuneResult,
  type FinetuneSettings,
  finetune,
  finetuneSettings,
  type TensorSource,
} from './finetune.js';
export {
  type EpochLoopOptions,
  type LoopEpochRecord,
  type LoopProgress,
  type LrSchedule,
  NonFiniteLossError,
  runEpochs,
  stepsPerEpoch,
  type TrainableClassifier,
  type TrainableParams,
} from './loop.js';
export {
  ADAMW_DEFAULTS,
  type AdamWOptions,
  Optimizer,
  type OptimizerOptions,
  SGD_DEFAULTS,
  type SgdOptions,
} from './optimizer.js';
export { cosineLr } from './schedule.js';
