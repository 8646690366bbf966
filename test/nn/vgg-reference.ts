// Float64 CPU reference of a CIFAR VGG-BN forward pass, written plainly on top of the per-op references in
// test/helpers/cnn-reference.ts (no code shared with src/nn) from the test-side model of
// test/helpers/torch-models.ts (no layer, stride, padding or BN eps read from src/arch).

import type { ModelDescription } from '../../src/arch/types.js';
import {
  batchNormRef,
  conv2dRef,
  crossEntropyRef,
  dropoutMaskRef,
  maxPoolRef,
} from '../helpers/cnn-reference.js';
import type { TorchVgg } from '../helpers/torch-models.js';
import { type Params64, type RefForward, torchNetOf } from './resnet-reference.js';

/**
 * Forward of x [n, C, H, W] in f64; train = batch statistics in every BN and dropout with the masks of
 * `dropoutSeed` (stream = the layer's position in the classifier), eval = running statistics, no dropout.
 */
export function vggRef(
  model: ModelDescription | TorchVgg,
  p: Params64,
  x: ArrayLike<number>,
  n: number,
  train: boolean,
  dropoutSeed = 0,
): RefForward {
  const net = torchNetOf(model);
  if (net.family !== 'vgg') throw new Error('vggRef: not a VGG');
  const units: RefForward['units'] = [];
  const batchStats: RefForward['batchStats'] = new Map();
  let cur: Float64Array = Float64Array.from(x);
  let shape = [n, ...net.input];
  for (const f of net.features) {
    if (f.kind === 'pool') {
      const r = maxPoolRef(cur, shape, f.kernel, f.stride, f.padding);
      cur = r.out;
      shape = r.shape;
      continue;
    }
    const { conv, bn } = f;
    const c = conv2dRef(
      cur,
      p[`${conv.name}.weight`],
      conv.bias ? p[`${conv.name}.bias`] : undefined,
      shape,
      [conv.cout, conv.cin, conv.kernel, conv.kernel],
      conv.stride,
      conv.padding,
    );
    units.push({ unit: f.unit, data: c.out, shape: c.shape });
    const given = train
      ? undefined
      : { mean: p[`${bn.name}.running_mean`], variance: p[`${bn.name}.running_var`] };
    const b = batchNormRef(c.out, c.shape, p[`${bn.name}.weight`], p[`${bn.name}.bias`], bn.eps, given);
    if (train) batchStats.set(bn.name, { mean: b.mean, variance: b.variance });
    cur = b.out.map((v) => Math.max(v, 0));
    shape = c.shape;
  }
  // Flatten C·H·W per sample: NCHW is already that order.
  let width = cur.length / n;
  for (const [i, layer] of net.classifier.entries()) {
    if (layer.op === 'relu') cur = cur.map((v) => Math.max(v, 0));
    else if (layer.op === 'dropout') {
      if (!train) continue;
      const mask = dropoutMaskRef(cur.length, layer.p, dropoutSeed, i);
      cur = cur.map((v, k) => v * mask[k]);
    } else {
      const W = p[`${layer.name}.weight`];
      const B = p[`${layer.name}.bias`];
      if (layer.inFeatures !== width) throw new Error(`${layer.name}: ${width} features in`);
      const out = new Float64Array(n * layer.outFeatures);
      for (let r = 0; r < n; r++) {
        for (let o = 0; o < layer.outFeatures; o++) {
          let acc = B[o];
          for (let k = 0; k < width; k++) acc += W[o * width + k] * cur[r * width + k];
          out[r * layer.outFeatures + o] = acc;
        }
      }
      cur = out;
      width = layer.outFeatures;
    }
  }
  return { logits: cur, units, batchStats };
}

/** Mean cross-entropy of the reference forward. */
export function vggLossRef(
  model: ModelDescription | TorchVgg,
  p: Params64,
  x: ArrayLike<number>,
  labels: ArrayLike<number>,
  train: boolean,
  dropoutSeed = 0,
): number {
  const net = torchNetOf(model) as TorchVgg;
  const { logits } = vggRef(net, p, x, labels.length, train, dropoutSeed);
  return crossEntropyRef(logits, labels, net.classes, 0).loss;
}
