// Float64 CPU reference of a cifar-resnet or torchvision resnet forward pass, written plainly on top of the
// per-op references in test/helpers/cnn-reference.ts (no code shared with src/nn) from the test-side model
// of test/helpers/torch-models.ts (no layer, stride, padding or BN eps read from src/arch).

import type { ModelDescription } from '../../src/arch/types.js';
import {
  batchNormRef,
  conv2dRef,
  crossEntropyRef,
  globalAvgPoolRef,
  maxPoolRef,
  shortcutARef,
} from '../helpers/cnn-reference.js';
import { values } from '../helpers/reference.js';
import {
  type TorchConvBn,
  type TorchNet,
  type TorchResnet,
  torchModel,
  torchTensors,
} from '../helpers/torch-models.js';

export type Params64 = Record<string, Float64Array>;

export interface RefForward {
  logits: Float64Array;
  /** Each unit's representation (SGLP.md §1), in unit order. */
  units: { unit: number; data: Float64Array; shape: number[] }[];
  /** Train mode: each BN's batch mean and biased variance. */
  batchStats: Map<string, { mean: Float64Array; variance: Float64Array }>;
}

/**
 * The test-side PyTorch model (test/helpers/torch-models.ts) of `model`. A description is used for its
 * config only (what the test asked for) and, for VGG, the classifier variant the test chose; no layer,
 * stride, padding or BN eps is taken from it.
 */
export function torchNetOf(model: ModelDescription | TorchNet): TorchNet {
  if (!('config' in model)) return model;
  return torchModel(model.config, model.net.family === 'vgg' ? model.net.classifierKind : undefined);
}

/** Forward of x [n, C, H, W] in f64; train = batch statistics in every BN. */
export function resnetRef(
  model: ModelDescription | TorchResnet,
  p: Params64,
  x: ArrayLike<number>,
  n: number,
  train: boolean,
): RefForward {
  const net = torchNetOf(model);
  if (net.family !== 'resnet') throw new Error('resnetRef: not a resnet');
  const units: RefForward['units'] = [];
  const batchStats: RefForward['batchStats'] = new Map();
  const convBn = (spec: TorchConvBn, input: ArrayLike<number>, shape: number[]) => {
    const { conv, bn } = spec;
    const c = conv2dRef(
      input,
      p[`${conv.name}.weight`],
      conv.bias ? p[`${conv.name}.bias`] : undefined,
      shape,
      [conv.cout, conv.cin, conv.kernel, conv.kernel],
      conv.stride,
      conv.padding,
    );
    const given = train
      ? undefined
      : { mean: p[`${bn.name}.running_mean`], variance: p[`${bn.name}.running_var`] };
    const b = batchNormRef(c.out, c.shape, p[`${bn.name}.weight`], p[`${bn.name}.bias`], bn.eps, given);
    if (train) batchStats.set(bn.name, { mean: b.mean, variance: b.variance });
    return { pre: c.out, out: b.out, shape: c.shape };
  };
  const relu = (v: Float64Array) => v.map((a) => Math.max(a, 0));
  const [c, h, w] = net.input;
  const stem = convBn(net.stem, x, [n, c, h, w]);
  units.push({ unit: 0, data: stem.pre, shape: stem.shape });
  let cur: Float64Array = relu(stem.out);
  let shape = stem.shape;
  if (net.stem.pool) {
    const { kernel, stride, padding } = net.stem.pool;
    const pooled = maxPoolRef(cur, shape, kernel, stride, padding);
    cur = pooled.out;
    shape = pooled.shape;
  }
  for (const block of net.blocks) {
    let hcur: Float64Array = cur;
    let hs = shape;
    let last: Float64Array = cur;
    block.body.forEach((pair, i) => {
      const r = convBn(pair, hcur, hs);
      hs = r.shape;
      last = r.out;
      hcur = i < block.body.length - 1 ? relu(r.out) : r.out;
    });
    let sc: ArrayLike<number>;
    const s = block.shortcut;
    if (s.kind === 'identity') sc = cur;
    else if (s.kind === 'optionA') sc = shortcutARef(cur, shape, s.pad).out;
    else sc = convBn(s, cur, shape).out;
    if (sc.length !== last.length) throw new Error(`${block.name}: shortcut and body differ in size`);
    cur = relu(last.map((v, i) => v + sc[i]));
    shape = hs;
    units.push({ unit: block.unit, data: cur, shape });
  }
  const pooled = globalAvgPoolRef(cur, shape);
  const fc = net.fc;
  if (shape[1] !== fc.inFeatures) throw new Error(`${fc.name}: ${shape[1]} features in`);
  const W = p[`${fc.name}.weight`];
  const B = p[`${fc.name}.bias`];
  const logits = new Float64Array(n * fc.outFeatures);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < fc.outFeatures; o++) {
      let acc = B[o];
      for (let i = 0; i < fc.inFeatures; i++) acc += W[o * fc.inFeatures + i] * pooled[r * fc.inFeatures + i];
      logits[r * fc.outFeatures + o] = acc;
    }
  }
  return { logits, units, batchStats };
}

/** Mean cross-entropy of the reference forward. */
export function resnetLossRef(
  model: ModelDescription | TorchResnet,
  p: Params64,
  x: ArrayLike<number>,
  labels: ArrayLike<number>,
  train: boolean,
): number {
  const net = torchNetOf(model);
  const { logits } = resnetRef(net as TorchResnet, p, x, labels.length, train);
  return crossEntropyRef(logits, labels, net.classes, 0).loss;
}

/**
 * Random parameters for tests: conv/linear weights ~ U(±√(3/fanIn)) scaled to keep activations O(1), BN
 * gamma around 1, beta around 0, running stats plausible (variance > 0). Values are f32-representable.
 */
export function randomParams(model: ModelDescription | TorchNet, seed: number): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  torchTensors(torchNetOf(model)).forEach((p, k) => {
    const n = p.shape.reduce((a, d) => a * d, 1);
    const u = values(n, seed * 1000 + k + 1);
    let a: Float32Array;
    if (p.kind === 'running_var') a = u.map((v) => 0.6 + 0.5 * (v + 1));
    else if (p.kind === 'running_mean') a = u.map((v) => 0.1 * v);
    else if (p.shape.length === 1 && p.kind === 'weight') a = u.map((v) => 1 + 0.3 * v);
    else if (p.shape.length === 1) a = u.map((v) => 0.1 * v);
    else {
      const fanIn = p.shape.slice(1).reduce((x, d) => x * d, 1);
      a = u.map((v) => v * Math.sqrt(3 / fanIn));
    }
    out[p.key] = a;
  });
  return out;
}

export function to64(p: Record<string, ArrayLike<number>>): Params64 {
  const out: Params64 = {};
  for (const [k, v] of Object.entries(p)) out[k] = Float64Array.from(v);
  return out;
}
