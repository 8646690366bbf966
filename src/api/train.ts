// The library's `train`: trains (or resumes) a base model of either family, an image classifier (SGD,
// cosine) or a byte-level causal LM (`arch: 'llama'`, AdamW, warmup + cosine), committing a checkpoint to
// a RunStore after every epoch: a directory through `sglp/node`'s runDirectory (what `sglp train` uses),
// or memory (the default). The run management is src/train/run/manager.ts; this only picks the family.

import type { Gpu } from '../gpu/device.js';
import { type EpochRecord, type ImageTrainResult, imageTrainer } from '../train/run/image.js';
import type { ImageTrainData, ImageTrainOptions } from '../train/run/image-settings.js';
import {
  type LmEpochSummary,
  type LmTrainData,
  type LmTrainOptions,
  type LmTrainResult,
  lmTrainer,
} from '../train/run/lm.js';
import { type RunHooks, runTraining, type TrainProgress } from '../train/run/manager.js';
import { MemoryRunStore, type Naming, type RunStore } from '../train/run/store.js';

export type { EpochRecord, ImageTrainResult } from '../train/run/image.js';
export type { ImageTrainData, ImageTrainOptions, RunSettings } from '../train/run/image-settings.js';
export { DEFAULT_DEPTH, TRAIN_DEFAULTS, TRAINABLE_ARCHITECTURES } from '../train/run/image-settings.js';
export type {
  LmEpochSummary,
  LmRunSettings,
  LmTrainData,
  LmTrainOptions,
  LmTrainResult,
} from '../train/run/lm.js';
export { llamaConfigJson, TRAIN_LM_DEFAULTS } from '../train/run/lm.js';
export type { TrainProgress } from '../train/run/manager.js';
export {
  type CheckpointFiles,
  MemoryRunStore,
  type Naming,
  type OpenHooks,
  type RunStore,
} from '../train/run/store.js';

/** Data as given, or a function that loads it (called after the store is checked). */
type Lazy<D> = D | (() => Promise<D>);

export type ImageTrainCall = ImageTrainOptions & { readonly data: Lazy<ImageTrainData> };
export type LmTrainCall = LmTrainOptions & { readonly arch: 'llama'; readonly data: Lazy<LmTrainData> };

export interface TrainCallOptions<R = unknown> extends RunHooks<R> {
  /** Where the checkpoints go (default: a new MemoryRunStore). */
  readonly store?: RunStore;
  /** Continue the run in `store` after its last committed epoch; the options must be the same. */
  readonly resume?: boolean;
  /** How errors name the options (default: their field names; `sglp train` passes its flags). */
  readonly naming?: Naming;
}

/**
 * Trains for `options.epochs` epochs, evaluating on the test split and committing a checkpoint after each
 * (model.safetensors, optimizer.safetensors, config.json, train-state.json). A resumed run gives the
 * same files, bit for bit, as an uninterrupted one. `gpu` may be a function: it is called once every
 * option, the store and the data are checked.
 */
export function train(
  gpu: Gpu | (() => Promise<Gpu>),
  options: LmTrainCall,
  call?: TrainCallOptions<LmEpochSummary>,
): Promise<LmTrainResult>;
export function train(
  gpu: Gpu | (() => Promise<Gpu>),
  options: ImageTrainCall,
  call?: TrainCallOptions<EpochRecord>,
): Promise<ImageTrainResult>;
export function train(
  gpu: Gpu | (() => Promise<Gpu>),
  options: ImageTrainCall | LmTrainCall,
  call: TrainCallOptions<never> = {},
): Promise<ImageTrainResult | LmTrainResult> {
  const run = {
    store: call.store ?? new MemoryRunStore(),
    resume: call.resume,
    gpu,
    naming: call.naming,
  };
  const hooks = { onProgress: call.onProgress as (p: TrainProgress) => void, signal: call.signal };
  if (options.arch === 'llama') {
    const { data, ...rest } = options as LmTrainCall;
    return runTraining(lmTrainer, { ...run, options: rest, data }, hooks);
  }
  const { data, ...rest } = options as ImageTrainCall;
  return runTraining(imageTrainer, { ...run, options: rest, data }, hooks);
}
