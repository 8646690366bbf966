// The portable library: runs unchanged in Node (through sglp/node), browsers and Deno.

export * as arch from './arch/index.js';
export * as evaluation from './eval/index.js';
export {
  type AcquireOptions,
  type AdapterSummary,
  acquireDevice,
  type Dispatch,
  Gpu,
  OPTIONAL_FEATURES,
} from './gpu/device.js';
export { DeviceLostError, KernelError, ShapeError } from './gpu/errors.js';
export { type KernelSpec, pipelineKey } from './gpu/pipelines.js';
export { type DType, Tensor } from './gpu/tensor.js';
export * as io from './io/index.js';
export * as nn from './nn/index.js';
export * as ops from './ops/index.js';
export {
  type BatchCka,
  CkaAccumulator,
  CkaError,
  type CkaOptions,
  type CkaResult,
  ckaFromHsic,
  type Estimator,
} from './sglp/cka.js';
export { prunedConfigJson, prunedTensors } from './sglp/export.js';
export {
  type GradNormBatch,
  networkGradNorm,
  ParamView,
  prunedNetwork,
  segmentScorer,
} from './sglp/importance.js';
export {
  type PruneInputs,
  type PruneOptions,
  type PruneProgress,
  type PruneResult,
  type PruneStage,
  pruneSglp,
  SGLP_DEFAULTS,
} from './sglp/pipeline.js';
export * as train from './train/index.js';
