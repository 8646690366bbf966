// The LM head's loss: final-norm output times the head weight, token cross-entropy, and its backward, on
// row slices (headCrossEntropy, the loaded model's and the streams' for heads that fit), and normHeadLoss, the
// final norm plus either that or the vocabulary-sliced head (llama-head-sliced.ts) for the layer streams.

import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import {
  add,
  linear,
  linearBackward,
  rmsNorm,
  rmsNormBackward,
  tokenCrossEntropy,
  tokenCrossEntropyBackward,
  uploadTargets,
} from '../ops/index.js';
import { type HeadRows, slicedHeadCrossEntropy } from './llama-head-sliced.js';

/** The LM head's loss on one batch: summed NLL; with train, d(mean NLL)/d(hidden) and d head weight (kept). */
export interface HeadLoss {
  sum: number;
  dHidden?: Tensor;
  headGrad?: Tensor;
}

/**
 * LM head + token cross-entropy on the final-norm output `hidden` [N, h], on slices of `headRows` token rows
 * (default: as many as one storage binding holds logits for), so a 128k vocabulary never needs an
 * [N, vocab] buffer. Targets < 0 predict nothing; `count` is how many do. With `train` also the gradients
 * (slices in order). `hidden` stays the caller's; the returned gradients are the caller's to dispose.
 */
export async function headCrossEntropy(
  gpu: Gpu,
  hidden: Tensor,
  W: Tensor,
  target: { ids: Int32Array; count: number },
  vocab: number,
  train: boolean,
  headRows?: number,
): Promise<HeadLoss> {
  const [N, h] = hidden.shape;
  const rows = Math.max(
    1,
    Math.min(N, headRows ?? Math.floor(gpu.limits.maxStorageBufferBindingSize / (4 * vocab))),
  );
  let dHidden: Tensor | undefined;
  let headGrad: Tensor | undefined;
  try {
    if (train) dHidden = gpu.keep(gpu.empty([N, h]));
    let sum = 0;
    for (let r0 = 0; r0 < N; r0 += rows) {
      const r = Math.min(rows, N - r0);
      sum += await gpu.scope(async () => {
        let xs = hidden;
        if (r < N) {
          xs = gpu.empty([r, h]);
          gpu.copy(hidden, xs, r * h * 4, r0 * h * 4, 0);
        }
        const logits = linear(gpu, xs, W);
        const targets = uploadTargets(gpu, target.ids.subarray(r0, r0 + r), vocab).targets;
        const ce = tokenCrossEntropy(gpu, logits, targets);
        if (dHidden) {
          const dl = tokenCrossEntropyBackward(gpu, logits, targets, ce, {
            inPlace: true,
            scale: 1 / target.count,
          });
          const g = linearBackward(gpu, xs, W, dl);
          gpu.copy(g.dx as Tensor, dHidden, r * h * 4, 0, r0 * h * 4);
          if (headGrad) {
            const next = gpu.keep(add(gpu, headGrad, g.dw));
            headGrad.dispose();
            headGrad = next;
          } else headGrad = gpu.keep(g.dw);
        }
        return (await gpu.readF32(ce.loss))[2];
      });
    }
    const out = { sum, dHidden, headGrad };
    dHidden = headGrad = undefined;
    return out;
  } finally {
    dHidden?.dispose();
    headGrad?.dispose();
  }
}

/**
 * Llama.nextTokenLoss's head on one batch's last hidden state `x` [N, hidden]: final RMSNorm, then the LM
 * head and token cross-entropy on slices of rows; with `train` also d mean NLL / d x, d norm weight and
 * d head weight (slices summed in order, as there). `x` stays the caller's.
 */
export async function normHeadLoss(
  gpu: Gpu,
  x: Tensor,
  normW: Tensor,
  W: Tensor | { rows: HeadRows; sliceRows: number },
  eps: number,
  target: { ids: Int32Array; count: number },
  vocab: number,
  train: boolean,
  headRows: number | undefined,
): Promise<{ sum: number; dx?: Tensor; normGrad?: Tensor; headGrad?: Tensor; slicedGrad?: Float32Array[] }> {
  const f = rmsNorm(gpu, x, normW, eps);
  const hidden = gpu.keep(f.out);
  const rstd = gpu.keep(f.rstd);
  let dHidden: Tensor | undefined;
  let headGrad: Tensor | undefined;
  try {
    if (!('shape' in W)) {
      const head = await slicedHeadCrossEntropy(gpu, hidden, W.rows, target, train, W.sliceRows, headRows);
      dHidden = head.dHidden;
      if (!dHidden || !head.headGrad) return { sum: head.sum };
      const fb = rmsNormBackward(gpu, dHidden, x, normW, rstd);
      return {
        sum: head.sum,
        dx: gpu.keep(fb.dx),
        normGrad: gpu.keep(fb.dweight),
        slicedGrad: head.headGrad,
      };
    }
    const head = await headCrossEntropy(gpu, hidden, W, target, vocab, train, headRows);
    ({ dHidden, headGrad } = head);
    const sum = head.sum;
    if (!dHidden || !headGrad) return { sum };
    const fb = rmsNormBackward(gpu, dHidden, x, normW, rstd);
    const out = { sum, dx: gpu.keep(fb.dx), normGrad: gpu.keep(fb.dweight), headGrad };
    headGrad = undefined;
    return out;
  } finally {
    hidden.dispose();
    rstd.dispose();
    dHidden?.dispose();
    headGrad?.dispose();
  }
}
