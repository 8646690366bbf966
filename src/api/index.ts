/**
 * The library API of `sglp` (browsers, Deno and Node alike): load a model and data from bytes, files or
 * URLs, then {@link cka}, {@link segment}, {@link prune}, {@link evaluate} and {@link exportModel}, with
 * progress callbacks and an AbortSignal. A device comes from `acquireDevice()` (`sglp/node`'s in Node).
 *
 * @module sglp
 */

// Types the calls above take or return, so that the API reference documents them too.
export { type NameOf, OptionError } from '../io/option-error.js';
export type { Select } from '../sglp/candidates.js';
export type { Estimator } from '../sglp/cka.js';
export type { PruneOptions } from '../sglp/families/image/prune.js';
export type { KeepRequest } from '../sglp/keep-plan.js';
export type { PruneStage } from '../sglp/pipeline.js';
export type { KRule, Segment, SegmentOptions } from '../sglp/segment.js';
export {
  type CifarFiles,
  checkFits,
  type IdxFiles,
  type ImageDataset,
  loadIdxSplits,
  loadImageDataset,
} from './data.js';
export { type ExportedFiles, type ExportedModel, exportFiles, exportModel } from './export.js';
export type { FamilyOptions, Split } from './family.js';
export {
  type AnyModel,
  type ImageModel,
  type LanguageModel,
  type LoadModelOptions,
  loadModel,
  type Model,
  type StreamedLanguageModel,
  type StreamModelOptions,
  type StreamOptions,
} from './model.js';
export {
  type CkaCallOptions,
  type CkaResult,
  type ClassifierMetrics,
  cka,
  type EvaluateCallOptions,
  evaluate,
  type PerplexityMetrics,
  type Progress,
  type PruneCallOptions,
  type PruneProgress,
  type PruneResult,
  prune,
  type RunOptions,
  type Segmentation,
  segment,
} from './run.js';
export {
  blobSource,
  type FileData,
  filesDirectory,
  type ModelSource,
  toDirectory,
  urlDirectory,
} from './sources.js';
export { loadTextData, type TextData, type TextDataOptions, type TextWindows } from './text.js';
export {
  type ImageTrainCall,
  type ImageTrainResult,
  type LmTrainCall,
  type LmTrainResult,
  MemoryRunStore,
  type RunStore,
  type TrainCallOptions,
  type TrainProgress,
  train,
} from './train.js';
