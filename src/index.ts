// The portable library: runs unchanged in Node (through sglp/node), browsers and Deno.

export {
  type AnyModel,
  type CifarFiles,
  type CkaCallOptions,
  type ClassifierMetrics,
  cka,
  type EvaluateCallOptions,
  type ExportedFiles,
  type ExportedModel,
  evaluate,
  exportFiles,
  exportModel,
  type FileData,
  filesDirectory,
  type IdxFiles,
  type ImageDataset,
  type ImageModel,
  type LanguageModel,
  type LoadModelOptions,
  loadIdxSplits,
  loadImageDataset,
  loadModel,
  loadTextData,
  type Model,
  type ModelSource,
  OptionError,
  type PerplexityMetrics,
  type Progress,
  type PruneCallOptions,
  type PruneResult,
  prune,
  type RunOptions,
  type Segmentation,
  type StreamedLanguageModel,
  type StreamModelOptions,
  type StreamOptions,
  segment,
  type TextData,
  type TextWindows,
  type TrainCallOptions,
  type TrainProgress,
  train,
  urlDirectory,
} from './api/index.js';
export * as arch from './arch/index.js';
export * as evaluation from './eval/index.js';
export {
  type AcquireOptions,
  type AdapterSummary,
  acquireDevice,
  type Dispatch,
  Gpu,
  OPTIONAL_FEATURES,
  type Waiter,
} from './gpu/device.js';
export { DeviceLostError, KernelError, ShapeError } from './gpu/errors.js';
export { type KernelSpec, pipelineKey } from './gpu/pipelines.js';
export { DeviceMemoryError } from './gpu/pool.js';
export { type DType, Tensor } from './gpu/tensor.js';
export {
  type UniformDecl,
  UniformError,
  UniformLayout,
  type UniformValues,
  uniforms,
} from './gpu/uniforms.js';
export * as io from './io/index.js';
export * as nn from './nn/index.js';
export * as ops from './ops/index.js';
export { calibrateText, TEXT_CALIBRATION_DEFAULTS } from './sglp/calibrate-text.js';
export {
  calibrateTextStreamed,
  type StreamedTextCalibrationOptions,
  type StreamedTextCalibrationResult,
} from './sglp/calibrate-text-stream.js';
export {
  type BatchCka,
  CkaAccumulator,
  CkaError,
  type CkaOptions,
  type CkaResult,
  ckaFromHsic,
  type Estimator,
} from './sglp/cka.js';
export { HF_SIDE_FILES, prunedConfigJson, prunedHfConfigJson, prunedTensors } from './sglp/export.js';
export {
  type PruneInputs,
  type PruneOptions,
  type PruneResult as ImagePruneResult,
  pruneSglp,
  SGLP_DEFAULTS,
} from './sglp/families/image/prune.js';
export {
  type LlmPruneInputs,
  type LlmPruneOptions,
  type LlmPruneResult,
  pruneLlm,
  SGLP_TEXT_DEFAULTS,
} from './sglp/families/lm/prune.js';
export type { LlmStreamInput } from './sglp/families/lm/streamed.js';
export { type GradNormBatch, networkGradNorm, segmentScorer } from './sglp/importance.js';
export { llmGradNorm, llmSegmentScorer, type TextBatch } from './sglp/importance-llm.js';
export {
  type StreamedScoringOptions,
  streamedGradNorm,
  streamedLlmSegmentScorer,
} from './sglp/importance-llm-stream.js';
export {
  type PipelineOptions,
  type PipelineResult,
  type PruneProgress,
  type PruneStage,
  runPipeline,
} from './sglp/pipeline.js';
export { ParamView, prunedNetwork, prunedView } from './sglp/pruned-view.js';
export { reinitArrays } from './sglp/reinit.js';
// The optimisers and loops under train(); the namespace was called `train` before the library's train().
export * as training from './train/index.js';
