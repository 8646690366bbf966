// Batch-norm recalibration, the repair after pruning (docs/method.md, "Batch-norm recalibration"; adaptive
// BN as in EagleEye, ECCV 2020): removing units shifts what every later BN sees, so the stored running
// statistics no longer fit the pruned network. They are re-estimated from train-mode forward passes over
// the first N train images (file order, no augmentation) as PyTorch does with momentum=None: at batch k
// the BN kernel updates with momentum 1/k, which leaves the plain mean over batches of the batch means and
// of the unbiased batch variances. Weights are untouched; the new statistics live in fresh tensors of the
// returned view, never in the loaded model.

import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import { batchCount, imageBatches, type Normalize } from '../io/batches.js';
import type { ImageDataset } from '../io/dataset.js';
import { createClassifier } from '../nn/model.js';
import type { ParamView } from './pruned-view.js';

export interface RecalibrateOptions {
  /** Train images to re-estimate from (the first N, file order). */
  readonly images: number;
  readonly batch: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
  /** Counts the forward passes run. */
  readonly counters?: { forward: number };
}

/** Whether the model has BN running statistics to recalibrate. */
export function hasBatchNorm(view: Pick<ParamView, 'bufferKeys'>): boolean {
  return view.bufferKeys().some((k) => k.endsWith('.running_mean'));
}

/**
 * The pruned model `view` with every BN's running mean and variance re-estimated on `train`. The returned
 * view takes over `view` (its fresh tensors included): dispose the returned one.
 */
export async function recalibrateBatchNorm(
  gpu: Gpu,
  view: ParamView,
  train: ImageDataset,
  normalize: Normalize,
  o: RecalibrateOptions,
): Promise<ParamView> {
  if (!Number.isSafeInteger(o.images) || o.images < 1) {
    throw new RangeError(`recalibrate: images must be a count >= 1, got ${o.images}`);
  }
  if (!Number.isSafeInteger(o.batch) || o.batch < 1) {
    throw new RangeError(`recalibrate: batch must be a count >= 1, got ${o.batch}`);
  }
  if (o.images > train.n) {
    throw new RangeError(`recalibrate: ${o.images} images asked, ${train.name} has only ${train.n}`);
  }
  const keys = view.bufferKeys().filter((k) => k.endsWith('.running_mean') || k.endsWith('.running_var'));
  if (keys.length === 0) throw new Error(`recalibrate: ${view.desc.name} has no batch-norm statistics`);
  // Zeros, not copies: the first batch's momentum 1 overwrites them (0 · old + 1 · batch statistic).
  const own = new Map<string, Tensor>(keys.map((k) => [k, gpu.keep(gpu.zeros([view.get(k).size]))]));
  let fresh: ParamView;
  try {
    fresh = view.replacing(own);
  } catch (e) {
    for (const t of own.values()) t.dispose();
    throw e;
  }
  try {
    const net = createClassifier(gpu, view.desc, fresh.asStore());
    const [c, h, w] = view.desc.input;
    const opts = { batchSize: o.batch, normalize, limit: o.images };
    const total = batchCount(train, opts);
    let k = 0;
    for (const b of imageBatches(train, opts)) {
      o.signal?.throwIfAborted();
      k++;
      await gpu.scope(async () => {
        const x = gpu.tensor(b.x, [b.size, c, h, w]);
        const { saved } = await net.forward(x, { mode: 'train', bnMomentum: 1 / k });
        saved?.dispose();
      });
      if (o.counters) o.counters.forward++;
      o.onProgress?.(k, total);
    }
    await gpu.sync();
    return fresh;
  } catch (e) {
    fresh.dispose();
    throw e;
  }
}
