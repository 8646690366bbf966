// Float64 CPU references for the transformer kernels, written plainly from the Hugging Face definitions
// (no shared code with src/); the gradient checks are in grad-check.ts.

import type { Vec } from './grad-check.js';

// ---- embedding ------------------------------------------------------------------------------------

/** out[t, :] = table[ids[t], :]. */
export function embeddingRef(table: Vec, ids: Vec, hidden: number): Float64Array {
  const out = new Float64Array(ids.length * hidden);
  for (let t = 0; t < ids.length; t++) {
    for (let c = 0; c < hidden; c++) out[t * hidden + c] = table[ids[t] * hidden + c];
  }
  return out;
}

// ---- RMSNorm (LlamaRMSNorm) -----------------------------------------------------------------------

/** y = weight * (x * 1/sqrt(mean(x^2) + eps)) per row of `hidden` values. */
export function rmsNormRef(x: Vec, weight: Vec, hidden: number, eps: number): Float64Array {
  const rows = x.length / hidden;
  const out = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let c = 0; c < hidden; c++) ss += x[r * hidden + c] ** 2;
    const inv = 1 / Math.sqrt(ss / hidden + eps);
    for (let c = 0; c < hidden; c++) out[r * hidden + c] = weight[c] * (x[r * hidden + c] * inv);
  }
  return out;
}

// ---- rotary embeddings ----------------------------------------------------------------------------

export interface RopeScalingRef {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

/**
 * inv_freq as transformers computes it (default: 1 / theta^(2i/d); Llama-3: the wavelength-dependent
 * division by `factor` with a smooth blend in between), here in plain f64 without any f32 rounding.
 */
export function invFreqRef(headDim: number, theta: number, scaling?: RopeScalingRef): Float64Array {
  const half = headDim / 2;
  const inv = Float64Array.from({ length: half }, (_, i) => 1 / theta ** ((2 * i) / headDim));
  if (!scaling) return inv;
  const { factor, lowFreqFactor: lo, highFreqFactor: hi, originalMaxPositionEmbeddings: old } = scaling;
  const lowWave = old / lo;
  const highWave = old / hi;
  return inv.map((f) => {
    const wave = (2 * Math.PI) / f;
    if (wave < highWave) return f;
    if (wave > lowWave) return f / factor;
    const smooth = (old / wave - lo) / (hi - lo);
    return ((1 - smooth) * f) / factor + smooth * f;
  });
}

/**
 * Hugging Face apply_rotary_pos_emb on one head vector layout: x viewed as [B, T, H, D] ('bthd') or
 * [B, H, T, D] ('bhtd'); position of token t is positions[t]; rotate_half pairs d with d + D/2.
 * `angle(t, i)` gives the angle of frequency i at token t; sign -1 applies the inverse rotation.
 */
export function ropeRef(
  x: Vec,
  shape: readonly number[],
  layout: 'bthd' | 'bhtd',
  angle: (t: number, i: number) => number,
  sign = 1,
): Float64Array {
  const [B, A, C, D] = shape;
  const [T, H] = layout === 'bthd' ? [A, C] : [C, A];
  const half = D / 2;
  const out = new Float64Array(x.length);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const base = layout === 'bthd' ? ((b * T + t) * H + h) * D : ((b * H + h) * T + t) * D;
        for (let i = 0; i < half; i++) {
          const a = angle(t, i);
          const c = Math.cos(a);
          const s = Math.sin(a) * sign;
          const x1 = x[base + i];
          const x2 = x[base + i + half];
          out[base + i] = x1 * c - x2 * s;
          out[base + i + half] = x2 * c + x1 * s;
        }
      }
    }
  }
  return out;
}

// ---- attention ------------------------------------------------------------------------------------

export interface AttnShape {
  B: number;
  Hq: number;
  Hkv: number;
  T: number;
  D: number;
  causal?: boolean;
}

/** Index of (b, h, t, d) in a [B, T, H, D] ('bthd') or [B, H, T, D] ('bhtd') array. */
export function headIndex(layout: 'bthd' | 'bhtd', H: number, T: number, D: number) {
  return layout === 'bthd'
    ? (b: number, h: number, t: number, d: number) => ((b * T + t) * H + h) * D + d
    : (b: number, h: number, t: number, d: number) => ((b * H + h) * T + t) * D + d;
}

/**
 * softmax(q k^T / sqrt(D) + causal mask) v with grouped-query heads (query head h reads kv head
 * floor(h / (Hq / Hkv))), materialising the full score matrix; also the natural log-sum-exp per row
 * ([B, Hq, T]).
 */
export function attentionRef(
  q: Vec,
  k: Vec,
  v: Vec,
  s: AttnShape,
  layout: 'bthd' | 'bhtd' = 'bhtd',
): { out: Float64Array; lse: Float64Array } {
  const { B, Hq, Hkv, T, D, causal = true } = s;
  const iq = headIndex(layout, Hq, T, D);
  const ik = headIndex(layout, Hkv, T, D);
  const group = Hq / Hkv;
  const scale = 1 / Math.sqrt(D);
  const out = new Float64Array(B * Hq * T * D);
  const lse = new Float64Array(B * Hq * T);
  const w = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / group);
      for (let i = 0; i < T; i++) {
        const last = causal ? i : T - 1;
        let m = -Infinity;
        for (let j = 0; j <= last; j++) {
          let dotv = 0;
          for (let d = 0; d < D; d++) dotv += q[iq(b, h, i, d)] * k[ik(b, hk, j, d)];
          w[j] = dotv * scale;
          m = Math.max(m, w[j]);
        }
        let sum = 0;
        for (let j = 0; j <= last; j++) {
          w[j] = Math.exp(w[j] - m);
          sum += w[j];
        }
        lse[(b * Hq + h) * T + i] = m + Math.log(sum);
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let j = 0; j <= last; j++) acc += w[j] * v[ik(b, hk, j, d)];
          out[iq(b, h, i, d)] = acc / sum;
        }
      }
    }
  }
  return { out, lse };
}

// ---- SwiGLU ---------------------------------------------------------------------------------------

export const siluRef = (g: number) => g / (1 + Math.exp(-g));

// ---- token cross-entropy --------------------------------------------------------------------------

/**
 * Mean negative log-likelihood over rows whose target is >= 0 (others ignored), from logits [N, V]; also
 * the per-row log-sum-exp and NLL (0 for ignored rows).
 */
export function tokenCrossEntropyRef(logits: Vec, targets: Vec, vocab: number) {
  const n = targets.length;
  const lse = new Float64Array(n);
  const nll = new Float64Array(n);
  let sum = 0;
  let count = 0;
  for (let r = 0; r < n; r++) {
    let m = -Infinity;
    for (let c = 0; c < vocab; c++) m = Math.max(m, logits[r * vocab + c]);
    let s = 0;
    for (let c = 0; c < vocab; c++) s += Math.exp(logits[r * vocab + c] - m);
    lse[r] = m + Math.log(s);
    if (targets[r] >= 0) {
      nll[r] = lse[r] - logits[r * vocab + targets[r]];
      sum += nll[r];
      count++;
    }
  }
  return { lse, nll, mean: count ? sum / count : 0, count };
}

// ---- whole model: Hugging Face LlamaForCausalLM ---------------------------------------------------

export interface LlamaRefConfig {
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  layers: number;
  eps: number;
  theta: number;
  scaling?: RopeScalingRef;
  /** lm_head is the embedding. */
  tied: boolean;
  /** Biases on q/k/v (Qwen2, attention_bias), o (attention_bias), gate/up/down (mlp_bias). */
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
}

/** y [N, out] = x [N, in] Wᵀ (+ b), PyTorch's F.linear. */
function linearRef(x: Vec, w: Vec, inF: number, outF: number, b?: Vec): Float64Array {
  const n = x.length / inF;
  const y = new Float64Array(n * outF);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = s;
    }
  }
  return y;
}

function addRef(a: Vec, b: Vec): Float64Array {
  return Float64Array.from({ length: a.length }, (_, i) => a[i] + b[i]);
}

/**
 * LlamaForCausalLM's forward in f64 on windows ids [B, T] (positions 0…T−1), weights by Hugging Face key:
 * logits [B·T, vocab] and each decoder layer's output hidden state [B·T, hidden].
 */
export function llamaRef(
  c: LlamaRefConfig,
  w: Readonly<Record<string, Vec>>,
  ids: Vec,
  B: number,
  T: number,
): { logits: Float64Array; hidden: Float64Array[] } {
  const { hidden: h, heads, kvHeads, headDim: D } = c;
  const get = (k: string): Vec => {
    const v = w[k];
    if (!v) throw new Error(`llamaRef: no weight "${k}"`);
    return v;
  };
  const inv = invFreqRef(D, c.theta, c.scaling);
  const angle = (t: number, i: number) => t * inv[i];
  let x = embeddingRef(get('model.embed_tokens.weight'), ids, h);
  const states: Float64Array[] = [];
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}`;
    const proj = (name: string, input: Vec, inF: number, outF: number, bias: boolean) =>
      linearRef(input, get(`${p}.${name}.weight`), inF, outF, bias ? get(`${p}.${name}.bias`) : undefined);
    const n1 = rmsNormRef(x, get(`${p}.input_layernorm.weight`), h, c.eps);
    const q = ropeRef(proj('self_attn.q_proj', n1, h, heads * D, c.qkvBias), [B, T, heads, D], 'bthd', angle);
    const k = ropeRef(
      proj('self_attn.k_proj', n1, h, kvHeads * D, c.qkvBias),
      [B, T, kvHeads, D],
      'bthd',
      angle,
    );
    const v = proj('self_attn.v_proj', n1, h, kvHeads * D, c.qkvBias);
    const a = attentionRef(q, k, v, { B, Hq: heads, Hkv: kvHeads, T, D }, 'bthd').out;
    const x1 = addRef(x, proj('self_attn.o_proj', a, heads * D, h, c.oBias));
    const n2 = rmsNormRef(x1, get(`${p}.post_attention_layernorm.weight`), h, c.eps);
    const g = proj('mlp.gate_proj', n2, h, c.intermediate, c.mlpBias);
    const u = proj('mlp.up_proj', n2, h, c.intermediate, c.mlpBias);
    const act = g.map((gv, i) => siluRef(gv) * u[i]);
    x = addRef(x1, proj('mlp.down_proj', act, c.intermediate, h, c.mlpBias));
    states.push(x);
  }
  const nf = rmsNormRef(x, get('model.norm.weight'), h, c.eps);
  const head = get(c.tied ? 'model.embed_tokens.weight' : 'lm_head.weight');
  return { logits: linearRef(nf, head, h, c.vocab), hidden: states };
}

/** Mean next-token NLL of windows ids [B, T]: position t predicts ids[t + 1]; the last predicts nothing. */
export function llamaNllRef(
  c: LlamaRefConfig,
  w: Readonly<Record<string, Vec>>,
  ids: Vec,
  B: number,
  T: number,
) {
  const { logits } = llamaRef(c, w, ids, B, T);
  const targets = Array.from({ length: B * T }, (_, i) => ((i + 1) % T === 0 ? -1 : ids[i + 1]));
  return tokenCrossEntropyRef(logits, targets, c.vocab).mean;
}
