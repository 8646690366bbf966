// The same CIFAR ResNet in tfjs-core ops on its WebGPU backend (NHWC, tfjs's native layout): conv2d with
// explicit padding, batch norm (running statistics in eval, tf.moments in train), ReLU, residual add, the
// option-A shortcut (every other row and column, zero channels padded on), global average pool and dense;
// gradients of the mean cross-entropy by tf.variableGrads. Weights come from our state dict (OIHW → HWIO).
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients; the union package imports this for tf.grads.
// tfjs-core stays external in our bundle (its CJS build has no gradients) while this ESM file is bundled;
// both register into tfjs's global registries, so the external engine finds them.
import '../../node_modules/@tensorflow/tfjs-core/dist/register_all_gradients.js';
import type { ModelDescription } from '../../src/arch/types.js';
import type { Waiter } from '../../src/gpu/device.js';
import type { Workload } from '../workload.js';
import { tfjsWorkload } from './tfjs.js';

type Weights = Map<string, { data: Float32Array; shape: readonly number[] }>;

export interface TfjsResnet {
  evalForward(): Workload;
  trainStep(): Workload;
  reference(keys: readonly string[]): Promise<{
    logits: Float32Array;
    loss: number;
    grads: Map<string, Float32Array>;
  }>;
  dispose(): void;
}

const EPS = 1e-5;

/**
 * x[:, ::s, ::s, :] (NHWC). tfjs has no gradient for StridedSlice, and its WebGPU pad (slice's gradient)
 * fails above rank 4, so: zero-pad H and W up to multiples of s, then one axis at a time view it as
 * [.., n/s, s, ..] (rank 4) and slice offset 0 of the s axis.
 */
function subsample(x: tf.Tensor4D, s: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const [ho, wo] = [Math.ceil(h / s), Math.ceil(w / s)];
  const padded = tf.pad(x, [
    [0, 0],
    [0, ho * s - h],
    [0, wo * s - w],
    [0, 0],
  ]);
  const rows = tf.slice(tf.reshape(padded, [n, ho, s, wo * s * c]), [0, 0, 0, 0], [n, ho, 1, wo * s * c]);
  const cols = tf.slice(tf.reshape(rows, [n * ho, wo, s, c]), [0, 0, 0, 0], [n * ho, wo, 1, c]);
  return tf.reshape(cols, [n, ho, wo, c]);
}

export function tfjsResnet(
  desc: ModelDescription,
  weights: Weights,
  xNchw: Float32Array,
  labels: Int32Array,
  wait: Waiter,
): TfjsResnet {
  if (desc.architecture !== 'cifar-resnet') {
    throw new Error(`tfjs peer: runs cifar-resnet only, got ${desc.architecture}`);
  }
  const net = desc.net;
  const [c, h, w] = desc.input;
  const n = labels.length;
  // Trainable tensors are variables (in our key order, for variableGrads); running statistics are constants.
  const vars = new Map<string, tf.Variable>();
  const consts = new Map<string, tf.Tensor>();
  for (const p of desc.params) {
    const { data, shape } = weights.get(p.key) ?? { data: undefined, shape: [] };
    if (!data) throw new Error(`tfjs peer: no weights for ${p.key}`);
    let t = tf.tensor(data, [...shape]);
    if (shape.length === 4) {
      const hwio = tf.transpose(t, [2, 3, 1, 0]);
      t.dispose();
      t = hwio;
    }
    if (p.kind === 'weight' || p.kind === 'bias') vars.set(p.key, tf.variable(t, true, p.key));
    else consts.set(p.key, t);
  }
  const get = (key: string): tf.Tensor => {
    const t = vars.get(key) ?? consts.get(key);
    if (!t) throw new Error(`tfjs peer: no tensor ${key}`);
    return t;
  };
  const x = tf.tidy(() => tf.transpose(tf.tensor4d(xNchw, [n, c, h, w]), [0, 2, 3, 1])) as tf.Tensor4D;
  const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), desc.numClasses);

  const convBn = (
    input: tf.Tensor4D,
    pair: { conv: { name: string; stride: number; padding: number }; bn: { name: string } },
    train: boolean,
  ): tf.Tensor4D => {
    const y = tf.conv2d(
      input,
      get(`${pair.conv.name}.weight`) as tf.Tensor4D,
      pair.conv.stride,
      pair.conv.padding,
    );
    const bn = pair.bn.name;
    const stats = train ? tf.moments(y, [0, 1, 2]) : undefined;
    return tf.batchNorm(
      y,
      stats ? stats.mean : get(`${bn}.running_mean`),
      stats ? stats.variance : get(`${bn}.running_var`),
      get(`${bn}.bias`),
      get(`${bn}.weight`),
      EPS,
    ) as tf.Tensor4D;
  };

  const forward = (train: boolean): tf.Tensor2D => {
    let out = tf.relu(convBn(x, net.stem, train));
    for (const block of net.stages.flat()) {
      let y = out;
      block.body.forEach((pair, i) => {
        y = convBn(y, pair, train);
        if (i < block.body.length - 1) y = tf.relu(y);
      });
      let sc: tf.Tensor4D = out;
      const s = block.shortcut;
      if (s.kind === 'pad') {
        sc = tf.pad(subsample(out, s.stride), [
          [0, 0],
          [0, 0],
          [0, 0],
          [s.padBefore, s.padAfter],
        ]);
      } else if (s.kind !== 'identity') {
        throw new Error(`tfjs peer: shortcut ${s.kind} not implemented`);
      }
      out = tf.relu(tf.add(y, sc) as tf.Tensor4D);
    }
    const pooled = tf.mean(out, [1, 2]) as tf.Tensor2D;
    const fc = net.fc.name;
    return tf.add(tf.matMul(pooled, get(`${fc}.weight`) as tf.Tensor2D, false, true), get(`${fc}.bias`));
  };
  const loss = () => tf.losses.softmaxCrossEntropy(oneHot, forward(true)) as tf.Scalar;
  const varList = [...vars.values()];

  return {
    evalForward: () => tfjsWorkload([], () => tf.tidy(() => forward(false)), wait),
    trainStep: () =>
      tfjsWorkload(
        [],
        () => {
          const { value, grads } = tf.variableGrads(loss, varList);
          return [value, ...Object.values(grads)];
        },
        wait,
      ),
    async reference(keys) {
      const logitsT = tf.tidy(() => forward(false));
      const logits = (await logitsT.data()) as Float32Array;
      logitsT.dispose();
      const { value, grads } = tf.variableGrads(loss, varList);
      const out = new Map<string, Float32Array>();
      for (const k of keys) {
        let g = grads[k];
        if (!g) throw new Error(`tfjs peer: no gradient for ${k}`);
        if (g.rank === 4) g = tf.transpose(g, [3, 2, 0, 1]);
        out.set(k, (await g.data()) as Float32Array);
        if (g !== grads[k]) g.dispose();
      }
      const lossValue = (await value.data())[0];
      tf.dispose([value, ...Object.values(grads)]);
      return { logits, loss: lossValue, grads: out };
    },
    dispose() {
      tf.dispose([...vars.values(), ...consts.values(), x, oneHot]);
    },
  };
}
