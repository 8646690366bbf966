// One LLaMA-family decoder layer's forward and backward on rows [B·T, hidden], its weights by state-dict key
// from a getter: the code Llama (llama.ts) runs on the loaded model and the layer streams
// (llama-stream.ts, llama-stream-grad.ts) run on one layer read from the checkpoint.

import type { DecoderLayerSpec, LlamaNet, ProjectionSpec } from '../arch/llama.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import {
  add,
  attention,
  attentionBackward,
  linear,
  linearBackward,
  type RopeTables,
  rmsNorm,
  rmsNormBackward,
  rope,
  ropeBackward,
  swiglu,
  swigluBackward,
} from '../ops/index.js';

/** What one decoder layer keeps for backward (tensors it created; `x` belongs to the layer before). */
export interface LayerActivations {
  readonly x: Tensor;
  readonly n1: Tensor;
  readonly rstd1: Tensor;
  /** After rope, [B, T, H, D]. */
  readonly q: Tensor;
  readonly k: Tensor;
  /** [N, Hkv·D]. */
  readonly v: Tensor;
  /** Attention output [B, T, Hq, D] and its log-sum-exp. */
  readonly attn: Tensor;
  readonly lse: Tensor;
  readonly x1: Tensor;
  readonly n2: Tensor;
  readonly rstd2: Tensor;
  readonly gate: Tensor;
  readonly up: Tensor;
  readonly act: Tensor;
  /** The layer output [N, hidden]. */
  readonly out: Tensor;
}

/** Where a layer's weight gradients go as they are made: a Map, or a sink that reduces and frees them. */
export interface GradientSink {
  set(key: string, grad: Tensor): unknown;
}

/**
 * Backward of one decoder layer: dx of the layer input from dout, given the activations its forward kept
 * and its weights by key from `get` (the loaded store, or one layer streamed in). Weight gradients go into
 * `grads` under their state-dict keys, each once it is made. Frees its own temporaries; dout stays the caller's.
 */
export function decoderLayerBackward(
  gpu: Gpu,
  net: LlamaNet,
  l: DecoderLayerSpec,
  get: (key: string) => Tensor,
  s: LayerActivations,
  dout: Tensor,
  grads: GradientSink,
  tables: RopeTables,
  B: number,
  T: number,
): Tensor {
  const { heads, kvHeads, headDim: D } = net;
  const N = B * T;
  const tmp: Tensor[] = [];
  const t = <X extends Tensor | undefined>(x: X): X => {
    if (x) tmp.push(x);
    return x;
  };
  const projBack = (p: ProjectionSpec, input: Tensor, dy: Tensor): Tensor => {
    const g = linearBackward(gpu, input, get(`${p.name}.weight`), dy, { biasGrad: p.bias });
    grads.set(`${p.name}.weight`, g.dw);
    if (g.db) grads.set(`${p.name}.bias`, g.db);
    return t(g.dx as Tensor);
  };
  try {
    // MLP branch: out = x1 + down(swiglu(gate(n2), up(n2))).
    const dact = projBack(l.down, s.act, dout);
    const sw = swigluBackward(gpu, dact, { gate: s.gate, up: s.up });
    t(sw.dgate);
    t(sw.dup);
    const dn2 = t(add(gpu, projBack(l.gate, s.n2, sw.dgate), projBack(l.up, s.n2, sw.dup)));
    const nb2 = rmsNormBackward(gpu, dn2, s.x1, get(l.postAttentionNorm), s.rstd2);
    grads.set(l.postAttentionNorm, nb2.dweight);
    const dx1 = t(add(gpu, dout, t(nb2.dx)));
    // Attention branch: x1 = x + o(attention(rope(q(n1)), rope(k(n1)), v(n1))).
    const dattn = projBack(l.o, s.attn.reshape([N, heads * D]), dx1);
    const vv = s.v.reshape([B, T, kvHeads, D]);
    const ab = attentionBackward(gpu, dattn.reshape([B, T, heads, D]), s.q, s.k, vv, s.attn, s.lse, {
      layout: 'bthd',
      causal: true,
    });
    t(ab.dq);
    t(ab.dk);
    t(ab.dv);
    const dq = t(ropeBackward(gpu, ab.dq, tables)).reshape([N, heads * D]);
    const dk = t(ropeBackward(gpu, ab.dk, tables)).reshape([N, kvHeads * D]);
    const dv = ab.dv.reshape([N, kvHeads * D]);
    const dn1 = t(
      add(gpu, t(add(gpu, projBack(l.q, s.n1, dq), projBack(l.k, s.n1, dk))), projBack(l.v, s.n1, dv)),
    );
    const nb1 = rmsNormBackward(gpu, dn1, s.x, get(l.inputNorm), s.rstd1);
    grads.set(l.inputNorm, nb1.dweight);
    return add(gpu, dx1, t(nb1.dx));
  } finally {
    for (const x of tmp) x.dispose();
  }
}

/**
 * One decoder layer on rows x [B·T, hidden], its weights by state-dict key from `get` (the loaded store, or
 * one layer streamed in). Runs inside a scope: returns every tensor a backward pass reads, the rest is
 * freed by the scope.
 */
export function decoderLayerForward(
  gpu: Gpu,
  net: LlamaNet,
  l: DecoderLayerSpec,
  get: (key: string) => Tensor,
  x: Tensor,
  tables: RopeTables,
  B: number,
  T: number,
): LayerActivations {
  const { heads, kvHeads, headDim: D, eps } = net;
  const N = B * T;
  const proj = (p: ProjectionSpec, input: Tensor): Tensor =>
    linear(gpu, input, get(`${p.name}.weight`), p.bias ? get(`${p.name}.bias`) : undefined);
  const a1 = rmsNorm(gpu, x, get(l.inputNorm), eps);
  const q = rope(gpu, proj(l.q, a1.out).reshape([B, T, heads, D]), tables);
  const k = rope(gpu, proj(l.k, a1.out).reshape([B, T, kvHeads, D]), tables);
  const v = proj(l.v, a1.out);
  const at = attention(gpu, q, k, v.reshape([B, T, kvHeads, D]), { layout: 'bthd', causal: true });
  const x1 = add(gpu, x, proj(l.o, at.out.reshape([N, heads * D])));
  const a2 = rmsNorm(gpu, x1, get(l.postAttentionNorm), eps);
  const gate = proj(l.gate, a2.out);
  const up = proj(l.up, a2.out);
  const act = swiglu(gpu, { gate, up });
  const out = add(gpu, x1, proj(l.down, act));
  return {
    x,
    n1: a1.out,
    rstd1: a1.rstd,
    q,
    k,
    v,
    attn: at.out,
    lse: at.lse,
    x1,
    n2: a2.out,
    rstd2: a2.rstd,
    gate,
    up,
    act,
    out,
  };
}
