// The training epoch loop shared by `sglp train` and fine-tuning after pruning: per step a train-mode
// forward pass (batch statistics, running statistics updated), mean cross-entropy, backward, one optimiser
// step at the scheduled learning rate. Batches come from imageBatches with the seed and epoch mixed in, so a
// run (or a resumed run, from startEpoch) repeats exactly. What happens between epochs (evaluation,
// checkpoints) is the caller's, through onEpoch.

import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import { type Augment, batchCount, imageBatches, type Normalize } from '../io/batches.js';
import type { ImageDataset } from '../io/dataset.js';
import { softmaxCrossEntropy, uploadLabels } from '../ops/norm/cross-entropy.js';
import type { Optimizer } from './optimizer.js';
import { cosineLr } from './schedule.js';

/**
 * What the loop needs of a model (ClassifierModel has it; `S` is its saved activations). Gradients come back
 * by state-dict key for every trainable tensor.
 */
export interface TrainableClassifier<S> {
  readonly desc: {
    readonly name: string;
    readonly input: readonly [number, number, number];
    readonly numClasses: number;
  };
  forward(x: Tensor, options: { mode: 'train' }): Promise<{ logits: Tensor; saved: S | undefined }>;
  backward(saved: S, dlogits: Tensor): ReadonlyMap<string, Tensor>;
}

/** The tensors the optimiser updates, by key (ParamStore has them). */
export interface TrainableParams {
  trainableKeys(): string[];
  get(key: string): Tensor;
}

export type LrSchedule = 'cosine' | 'constant';

export interface EpochLoopOptions {
  /** Epochs of the whole run (the schedule spans them all). */
  readonly epochs: number;
  /** Epochs already done (a resumed run); default 0. */
  readonly startEpoch?: number;
  readonly batchSize: number;
  /** Peak learning rate; cosine decays it to 0 over every step of the run, per step. */
  readonly lr: number;
  readonly schedule?: LrSchedule;
  readonly normalize: Normalize;
  /** Seeds shuffling and augmentation (each epoch draws its own streams from seed and epoch). */
  readonly seed: number;
  /** Random crop + flip; `true` is pad 4 and flip, as `sglp train`. */
  readonly augment: boolean | Augment;
  /** How the learning rate is called in a NaN-loss error (the CLI says `--lr`). */
  readonly lrName?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: LoopProgress) => void;
  /** Awaited after every epoch, before the next begins (evaluation, checkpoints). */
  readonly onEpoch?: (record: LoopEpochRecord) => void | Promise<void>;
}

export type LoopProgress =
  | { readonly type: 'epoch-start'; readonly epoch: number; readonly epochs: number; readonly steps: number }
  | {
      readonly type: 'step';
      /** 1-based, as in `epoch 1/3`. */
      readonly epoch: number;
      readonly epochs: number;
      /** Steps done in this epoch, and their total. */
      readonly step: number;
      readonly steps: number;
      /** Samples seen this epoch, their mean loss, and images per second. */
      readonly samples: number;
      readonly loss: number;
      readonly rate: number;
    };

export interface LoopEpochRecord {
  /** 1-based. */
  readonly epoch: number;
  /** Mean training loss over the epoch's samples (train mode, as they were seen). */
  readonly trainLoss: number;
  /** The learning rate of the epoch's last step. */
  readonly lr: number;
  readonly samples: number;
  readonly seconds: number;
  readonly imagesPerSecond: number;
}

/** A step's loss was NaN or infinite: training diverged. */
export class NonFiniteLossError extends Error {
  constructor(
    readonly epoch: number,
    readonly epochs: number,
    readonly step: number,
    readonly loss: number,
    lrName: string,
  ) {
    super(`epoch ${epoch}/${epochs}, step ${step}: the loss is ${loss}; try a smaller ${lrName}`);
    this.name = 'NonFiniteLossError';
  }
}

function checkOptions(o: EpochLoopOptions): void {
  const start = o.startEpoch ?? 0;
  if (!(Number.isSafeInteger(o.epochs) && o.epochs >= 1)) {
    throw new RangeError(`epochs must be an integer >= 1, got ${o.epochs}`);
  }
  if (!(Number.isSafeInteger(start) && start >= 0 && start <= o.epochs)) {
    throw new RangeError(`startEpoch must be an integer in [0, ${o.epochs}], got ${start}`);
  }
  if (!(Number.isSafeInteger(o.batchSize) && o.batchSize >= 1)) {
    throw new RangeError(`batch size must be an integer >= 1, got ${o.batchSize}`);
  }
  if (!(Number.isFinite(o.lr) && o.lr > 0)) throw new RangeError(`learning rate must be > 0, got ${o.lr}`);
  if (!Number.isSafeInteger(o.seed)) throw new RangeError(`seed must be an integer, got ${o.seed}`);
}

/** Steps one epoch takes over `train` (the last batch may be smaller). */
export function stepsPerEpoch(train: ImageDataset, batchSize: number, normalize: Normalize): number {
  return batchCount(train, { batchSize, normalize });
}

/** Trains `model` (whose parameters are `params`) from startEpoch to epochs; returns those epochs' records. */
export async function runEpochs<S>(
  gpu: Gpu,
  model: TrainableClassifier<S>,
  params: TrainableParams,
  optimizer: Optimizer,
  train: ImageDataset,
  options: EpochLoopOptions,
): Promise<LoopEpochRecord[]> {
  checkOptions(options);
  const { epochs, batchSize, normalize, seed, signal } = options;
  const schedule = options.schedule ?? 'cosine';
  const steps = stepsPerEpoch(train, batchSize, normalize);
  if (steps === 0) throw new RangeError(`${train.name} has no samples to train on`);
  const totalSteps = epochs * steps;
  const keys = params.trainableKeys();
  const tensors = keys.map((k) => params.get(k));
  const [c, h, w] = model.desc.input;
  const records: LoopEpochRecord[] = [];
  for (let epoch = options.startEpoch ?? 0; epoch < epochs; epoch++) {
    signal?.throwIfAborted();
    options.onProgress?.({ type: 'epoch-start', epoch: epoch + 1, epochs, steps });
    const t0 = performance.now();
    let seen = 0;
    let lossSum = 0;
    let lr = options.lr;
    let i = 0;
    for (const b of imageBatches(train, {
      batchSize,
      normalize,
      seed,
      shuffle: true,
      augment: options.augment,
      epoch,
    })) {
      signal?.throwIfAborted();
      lr = schedule === 'cosine' ? cosineLr(options.lr, epoch * steps + i, totalSteps) : options.lr;
      const stepLr = lr;
      const loss = await gpu.scope(async () => {
        const x = gpu.tensor(b.x, [b.size, c, h, w]);
        const labels = uploadLabels(gpu, b.y, model.desc.numClasses);
        const { logits, saved } = await model.forward(x, { mode: 'train' });
        const ce = softmaxCrossEntropy(gpu, logits, labels);
        if (saved === undefined || !ce.dlogits) {
          throw new Error('internal: no saved activations for backward');
        }
        const grads = model.backward(saved, ce.dlogits);
        optimizer.step(
          tensors,
          keys.map((k) => {
            const g = grads.get(k);
            if (!g) throw new Error(`internal: backward gave no gradient for "${k}"`);
            return g;
          }),
          stepLr,
        );
        return (await gpu.readF32(ce.loss))[0];
      });
      i++;
      if (!Number.isFinite(loss)) {
        throw new NonFiniteLossError(epoch + 1, epochs, i, loss, options.lrName ?? 'learning rate');
      }
      lossSum += loss * b.size;
      seen += b.size;
      options.onProgress?.({
        type: 'step',
        epoch: epoch + 1,
        epochs,
        step: i,
        steps,
        samples: seen,
        loss: lossSum / seen,
        rate: seen / ((performance.now() - t0) / 1000),
      });
    }
    const seconds = (performance.now() - t0) / 1000;
    const record: LoopEpochRecord = {
      epoch: epoch + 1,
      trainLoss: lossSum / seen,
      lr,
      samples: seen,
      seconds,
      imagesPerSecond: seen / seconds,
    };
    records.push(record);
    await options.onEpoch?.(record);
  }
  return records;
}
