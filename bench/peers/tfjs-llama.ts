// One LLaMA decoder model in tfjs-core ops on its WebGPU backend, with the weights of our state dict:
// embedding gather, per layer RMSNorm → q/k/v projections → rotate-half RoPE (Hugging Face) → causal
// attention as tfjs users write it (kv heads repeated to the query heads, full T×T scores masked, softmax)
// → o projection + residual → RMSNorm → SwiGLU MLP + residual; then the final RMSNorm. Gradients of
// sum(hidden · dHidden) for every weight by tf.grads (which runs the forward again inside).
import * as tf from '@tensorflow/tfjs-core';
import type { LlamaNet } from '../../src/arch/llama.js';

export type Weights = Map<string, { data: Float32Array; shape: readonly number[] }>;

export interface TfjsLlama {
  /** Final-norm output [B·T, hidden] (the caller disposes it). */
  forward(): tf.Tensor2D;
  /** Gradients of sum(forward() · dHidden) in `keys` order (the caller disposes them). */
  grads(): tf.Tensor[];
  readonly keys: readonly string[];
  dispose(): void;
}

export function tfjsLlama(
  net: LlamaNet,
  weights: Weights,
  ids: Int32Array,
  dHidden: Float32Array,
  B: number,
  T: number,
): TfjsLlama {
  const { hidden: h, heads: Hq, kvHeads: Hkv, headDim: D, eps } = net;
  const N = B * T;
  const keys = [...weights.keys()];
  const vars = keys.map((k) => {
    const w = weights.get(k);
    if (!w) throw new Error(`no weight ${k}`);
    return tf.tensor(w.data, [...w.shape]);
  });
  const at = (ws: readonly tf.Tensor[], key: string) => {
    const i = keys.indexOf(key);
    if (i < 0) throw new Error(`tfjs llama: no weight ${key}`);
    return ws[i];
  };
  const idT = tf.tensor1d(ids, 'int32');
  const dH = tf.tensor2d(dHidden, [N, h]);
  // RoPE tables [T, D] as transformers builds them: the D/2 frequencies twice.
  const half = D / 2;
  const ang = new Float32Array(T * D);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const a = t / net.ropeTheta ** ((2 * i) / D);
      ang[t * D + i] = a;
      ang[t * D + half + i] = a;
    }
  }
  const cos = tf.reshape(tf.cos(tf.tensor2d(ang, [T, D])), [1, T, 1, D]);
  const sin = tf.reshape(tf.sin(tf.tensor2d(ang, [T, D])), [1, T, 1, D]);
  const mask = tf.tensor2d(
    Float32Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0)),
    [T, T],
  );
  const scale = 1 / Math.sqrt(D);

  const rms = (x: tf.Tensor2D, w: tf.Tensor) =>
    tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), w) as tf.Tensor2D;
  const lin = (x: tf.Tensor2D, w: tf.Tensor) => tf.matMul(x, w as tf.Tensor2D, false, true);
  const rope = (x: tf.Tensor, H: number) => {
    const x4 = tf.reshape(x, [B, T, H, D]);
    const [x1, x2] = tf.split(x4, 2, 3);
    return tf.add(tf.mul(x4, cos), tf.mul(tf.concat([tf.neg(x2), x1], 3), sin));
  };
  // [B, T, H, D] → [B·Hq, T, D], kv heads repeated to the query heads (a gather: tfjs-webgpu runs a rank-5
  // tile on the CPU).
  const repeat = tf.tensor1d(
    Int32Array.from({ length: Hq }, (_, i) => Math.floor(i / (Hq / Hkv))),
    'int32',
  );
  const heads = (x: tf.Tensor, H: number) => {
    const t = tf.transpose(x, [0, 2, 1, 3]);
    return tf.reshape(H === Hq ? t : tf.gather(t, repeat, 1), [B * Hq, T, D]) as tf.Tensor3D;
  };

  const model = (ws: readonly tf.Tensor[]): tf.Tensor2D => {
    let x = tf.gather(at(ws, net.embed), idT) as tf.Tensor2D;
    for (const l of net.layers) {
      const n1 = rms(x, at(ws, l.inputNorm));
      const q = heads(rope(lin(n1, at(ws, `${l.q.name}.weight`)), Hq), Hq);
      const k = heads(rope(lin(n1, at(ws, `${l.k.name}.weight`)), Hkv), Hkv);
      const v = heads(tf.reshape(lin(n1, at(ws, `${l.v.name}.weight`)), [B, T, Hkv, D]), Hkv);
      const p = tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), scale), mask));
      const a = tf.reshape(tf.transpose(tf.reshape(tf.matMul(p, v), [B, Hq, T, D]), [0, 2, 1, 3]), [
        N,
        Hq * D,
      ]);
      const x1 = tf.add(x, lin(a as tf.Tensor2D, at(ws, `${l.o.name}.weight`))) as tf.Tensor2D;
      const n2 = rms(x1, at(ws, l.postAttentionNorm));
      const g = lin(n2, at(ws, `${l.gate.name}.weight`));
      const u = lin(n2, at(ws, `${l.up.name}.weight`));
      const act = tf.mul(tf.mul(g, tf.sigmoid(g)), u) as tf.Tensor2D;
      x = tf.add(x1, lin(act, at(ws, `${l.down.name}.weight`))) as tf.Tensor2D;
    }
    return rms(x, at(ws, net.norm));
  };
  const gradFn = tf.grads((...ws: tf.Tensor[]) => tf.sum(tf.mul(model(ws), dH)));

  return {
    keys,
    forward: () => tf.tidy(() => model(vars)),
    grads: () => tf.tidy(() => gradFn(vars)),
    dispose: () => tf.dispose([...vars, idT, dH, cos, sin, mask, repeat]),
  };
}
