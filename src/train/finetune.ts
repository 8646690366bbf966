// Fine-tuning after pruning (docs/method.md §5): the pruned model's tensors are copied into a fresh, writable
// ParamStore (the source, usually a read-only view over the loaded model, is only read) and trained for E
// epochs with SGD + momentum, weight decay and a per-step cosine learning rate, shuffled and augmented from
// a seed exactly as `sglp train` does (on the first N train samples with `--finetune-samples N`). The
// caller evaluates the result and owns (disposes) the new store.

import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import type { Normalize } from '../io/batches.js';
import type { ImageDataset } from '../io/dataset.js';
import { checkCount } from '../io/option-error.js';
import { type ClassifierModel, createClassifier } from '../nn/model.js';
import { ParamStore } from '../nn/params.js';
import { type LoopEpochRecord, type LoopProgress, runEpochs } from './loop.js';
import { Optimizer, SGD_DEFAULTS } from './optimizer.js';

/** docs/method.md §5's image protocol: SGD momentum 0.9, lr 0.01 cosine, weight decay 5e-3, batch 256. */
export const FINETUNE_DEFAULTS = {
  lr: 0.01,
  momentum: SGD_DEFAULTS.momentum,
  weightDecay: SGD_DEFAULTS.weightDecay,
  batchSize: 256,
  schedule: 'cosine',
  /** Crop (pad 4) + flip, as `sglp train` does by default. */
  augment: true,
  seed: 0,
} as const;

export interface FinetuneOptions {
  readonly epochs: number;
  readonly seed?: number;
  readonly lr?: number;
  readonly momentum?: number;
  readonly weightDecay?: number;
  readonly batchSize?: number;
  readonly augment?: boolean;
  /** `--finetune-samples N`: train on the first N samples of the split only (default: all). */
  readonly samples?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: LoopProgress) => void;
  /** Awaited after every epoch with the fine-tuned model so far (e.g. a per-epoch evaluation). */
  readonly onEpoch?: (record: LoopEpochRecord, net: ClassifierModel) => void | Promise<void>;
}

/** Every setting of a fine-tuning run, as the report's protocol.finetune records it. */
export interface FinetuneSettings {
  readonly epochs: number;
  readonly optimizer: 'sgd';
  readonly lr: number;
  readonly schedule: 'cosine';
  readonly momentum: number;
  readonly weightDecay: number;
  readonly batchSize: number;
  readonly augment: boolean;
  readonly seed: number;
  /** First N training samples; null: the whole train split. */
  readonly samples: number | null;
}

export interface FinetuneResult {
  /** The fine-tuned tensors under the description's keys (the caller disposes them). */
  readonly params: ParamStore;
  readonly history: LoopEpochRecord[];
  readonly settings: FinetuneSettings;
}

/** Where the pruned model's tensors are read from (a ParamView or a ParamStore). */
export interface TensorSource {
  get(key: string): Tensor;
}

export function finetuneSettings(options: FinetuneOptions): FinetuneSettings {
  const s: FinetuneSettings = {
    epochs: options.epochs,
    optimizer: 'sgd',
    lr: options.lr ?? FINETUNE_DEFAULTS.lr,
    schedule: FINETUNE_DEFAULTS.schedule,
    momentum: options.momentum ?? FINETUNE_DEFAULTS.momentum,
    weightDecay: options.weightDecay ?? FINETUNE_DEFAULTS.weightDecay,
    batchSize: options.batchSize ?? FINETUNE_DEFAULTS.batchSize,
    augment: options.augment ?? FINETUNE_DEFAULTS.augment,
    seed: options.seed ?? FINETUNE_DEFAULTS.seed,
    samples: options.samples ?? null,
  };
  checkCount('finetune.epochs', s.epochs);
  if (!(Number.isFinite(s.lr) && s.lr > 0)) throw new RangeError(`fine-tuning lr must be > 0, got ${s.lr}`);
  if (!(s.momentum >= 0 && s.weightDecay >= 0)) {
    throw new RangeError(
      `fine-tuning momentum and weight decay must be >= 0, got ${s.momentum} and ${s.weightDecay}`,
    );
  }
  if (!(Number.isSafeInteger(s.batchSize) && s.batchSize >= 1)) {
    throw new RangeError(`fine-tuning batch size must be an integer >= 1, got ${s.batchSize}`);
  }
  if (!Number.isSafeInteger(s.seed) || s.seed < 0) {
    throw new RangeError(`fine-tuning seed must be an integer >= 0, got ${s.seed}`);
  }
  checkFinetuneSamples(s.samples);
  return s;
}

/** `finetune.samples`: null (all) or an integer >= 1. */
export function checkFinetuneSamples(samples: number | null): void {
  if (samples !== null) checkCount('finetune.samples', samples);
}

/** The first `samples` images of `train` (all of them when null or larger), without copying. */
export function firstSamples(train: ImageDataset, samples: number | null): ImageDataset {
  if (samples === null || samples >= train.n) return train;
  const size = train.c * train.h * train.w;
  return {
    ...train,
    name: `${train.name} (first ${samples})`,
    n: samples,
    images: train.images.subarray(0, samples * size),
    labels: train.labels.subarray(0, samples),
  };
}

/** A writable copy of `source`'s tensors for `desc` (values read back and uploaded afresh). */
export async function copyParams(
  gpu: Gpu,
  desc: ModelDescription,
  source: TensorSource,
): Promise<ParamStore> {
  const arrays: Record<string, Float32Array> = {};
  for (const p of desc.params) arrays[p.key] = await gpu.readF32(source.get(p.key));
  return ParamStore.fromArrays(gpu, desc, arrays);
}

/** Fine-tunes a copy of the pruned model on `train` (normalised with `normalize`). */
export async function finetune(
  gpu: Gpu,
  desc: ModelDescription,
  source: TensorSource,
  train: ImageDataset,
  normalize: Normalize,
  options: FinetuneOptions,
): Promise<FinetuneResult> {
  const settings = finetuneSettings(options);
  const [c, h, w] = desc.input;
  if (train.c !== c || train.h !== h || train.w !== w) {
    throw new Error(
      `fine-tuning: ${train.name} has ${train.c}x${train.h}x${train.w} images, ${desc.name} takes ${c}x${h}x${w}`,
    );
  }
  const params = await copyParams(gpu, desc, source);
  const net = createClassifier(gpu, desc, params);
  const opt = new Optimizer(gpu, {
    kind: 'sgd',
    momentum: settings.momentum,
    weightDecay: settings.weightDecay,
  });
  try {
    const history = await runEpochs(gpu, net, params, opt, firstSamples(train, settings.samples), {
      epochs: settings.epochs,
      batchSize: settings.batchSize,
      lr: settings.lr,
      schedule: settings.schedule,
      normalize,
      seed: settings.seed,
      augment: settings.augment,
      signal: options.signal,
      onProgress: options.onProgress,
      onEpoch: options.onEpoch ? (r) => options.onEpoch?.(r, net) : undefined,
    });
    return { params, history, settings };
  } catch (e) {
    params.dispose();
    throw e;
  } finally {
    net.unfreeze();
    opt.dispose();
  }
}
