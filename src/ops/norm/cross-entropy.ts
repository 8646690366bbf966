import crossEntropyWgsl from '../../../shaders/cross-entropy.wgsl';
import rowReduceWgsl from '../../../shaders/lib/row-reduce.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { cnn as tun } from '../../tunables.js';
import { mean } from '../reduce/reduce.js';
import { expectDType, grid2d } from '../util.js';

const params = uniforms({ rows: 'u32', cols: 'u32', gridX: 'u32', smoothing: 'f32', gradScale: 'f32' });

/**
 * Uploads class labels as an i32 tensor [B], checking on the CPU that each is an integer in
 * [0, numClasses): the kernels cannot report a bad label, so this is where it is caught.
 */
export function uploadLabels(gpu: Gpu, labels: ArrayLike<number>, numClasses: number): Tensor {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new ShapeError('uploadLabels', `numClasses must be a positive integer, got ${numClasses}`);
  }
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
      throw new ShapeError('uploadLabels', `label ${i} is ${v}, expected an integer in [0, ${numClasses})`);
    }
  }
  return gpu.tensor(labels, [labels.length], 'i32');
}

export interface CrossEntropyOptions {
  /** PyTorch's label_smoothing: the target is (1 - s) onehot + s / C. Default 0. */
  labelSmoothing?: number;
  /** Also return dlogits, the gradient of the mean loss (default true). */
  grad?: boolean;
}

export interface CrossEntropyResult {
  /** [1]: the loss averaged over the batch (reduction 'mean'). */
  loss: Tensor;
  /** [B]: each row's loss. */
  perSample: Tensor;
  /** [B, C]: d loss / d logits (softmax - target) / B, when grad is on. */
  dlogits?: Tensor;
}

/**
 * Softmax cross-entropy like PyTorch's F.cross_entropy(logits, labels, label_smoothing=s) with the mean
 * over the batch: logits [B, C] f32, labels i32 [B] (from uploadLabels). The batch mean is a
 * deterministic reduction.
 */
export function softmaxCrossEntropy(
  gpu: Gpu,
  logits: Tensor,
  labels: Tensor,
  opts: CrossEntropyOptions = {},
): CrossEntropyResult {
  const op = 'softmaxCrossEntropy';
  expectDType(op, logits, 'f32');
  expectDType(op, labels, 'i32');
  if (logits.shape.length !== 2)
    throw new ShapeError(op, `logits must be [B, C], got [${logits.shape.join(', ')}]`);
  const [rows, cols] = logits.shape;
  if (labels.shape.length !== 1 || labels.shape[0] !== rows) {
    throw new ShapeError(
      op,
      `labels must be [${rows}] for logits [${rows}, ${cols}], got [${labels.shape.join(', ')}]`,
    );
  }
  if (rows === 0 || cols === 0)
    throw new ShapeError(op, `needs at least one row and one class, got [${rows}, ${cols}]`);
  const smoothing = opts.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing <= 1))
    throw new ShapeError(op, `labelSmoothing must be in [0, 1], got ${smoothing}`);
  const grad = opts.grad ?? true;
  const perSample = gpu.empty([rows]);
  const dlogits = grad ? gpu.empty([rows, cols]) : undefined;
  const [gx, gy] = grid2d(rows);
  gpu.dispatch({
    kernel: {
      name: 'cross-entropy',
      template: crossEntropyWgsl,
      defines: { WG: tun.workgroupSize, GRAD: grad },
      params,
      includes: { 'row-reduce': rowReduceWgsl },
    },
    buffers: dlogits ? [logits, labels, perSample, dlogits] : [logits, labels, perSample],
    uniforms: { rows, cols, gridX: gx, smoothing, gradScale: 1 / rows },
    workgroups: [gx, gy],
  });
  const loss = mean(gpu, perSample, 0, true);
  return { loss, perSample, dlogits };
}
