// The LLM parts of SGLP against f64: text calibration's averaged CKA of the decoder layers' output hidden
// states (one matrix per batch of token rows), and a candidate's GradNorm (all parameters, next-token
// NLL, the segment pruned to the candidate) against central finite differences of the f64 model.

import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { validateModelConfig } from '../../src/io/config.js';
import { textWindows } from '../../src/io/text-data.js';
import { Llama } from '../../src/nn/llama.js';
import { ParamStore } from '../../src/nn/params.js';
import { calibrateText } from '../../src/sglp/calibrate-text.js';
import { llmSegmentScorer } from '../../src/sglp/importance-llm.js';
import { useGpu } from '../helpers/gpu.js';
import { type LlamaRefConfig, llamaNllRef, llamaRef } from '../helpers/llm-reference.js';
import { values } from '../helpers/reference.js';

const getGpu = useGpu();
const V = 20;
const H = 8;
const cfgJson = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: H,
  intermediate_size: 12,
  num_hidden_layers: 3,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  vocab_size: V,
  rms_norm_eps: 1e-5,
  max_position_embeddings: 32,
  tie_word_embeddings: true,
};
const ref = (layers: number): LlamaRefConfig => ({
  hidden: H,
  intermediate: 12,
  heads: 2,
  kvHeads: 1,
  headDim: 4,
  vocab: V,
  layers,
  eps: 1e-5,
  theta: 10000,
  tied: true,
  qkvBias: false,
  oBias: false,
  mlpBias: false,
});

function model() {
  const desc = describeModel(validateModelConfig(cfgJson));
  const w: Record<string, Float32Array> = {};
  desc.params.forEach((p, i) => {
    const v = values(
      p.shape.reduce((a, b) => a * b, 1),
      300 + i,
      0.5,
    );
    w[p.key] = p.key.endsWith('norm.weight') ? v.map((x) => 1 + x / 2) : v;
  });
  return { desc, w };
}

/** Deterministic token ids in [0, V). */
function tokens(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 7 + seed * 3 + ((i * i) % 5)) % V);
}

/** Linear CKA (biased HSIC) of [n, p] row sets, in f64. */
function ckaRef(x: ArrayLike<number>, y: ArrayLike<number>, n: number, p: number): number {
  const centred = (a: ArrayLike<number>) => {
    const k = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let c = 0; c < p; c++) s += a[i * p + c] * a[j * p + c];
        k[i * n + j] = s;
      }
    const row = new Float64Array(n);
    let all = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) row[i] += k[i * n + j] / n;
    for (let i = 0; i < n; i++) all += row[i] / n;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) k[i * n + j] += all - row[i] - row[j];
    return k;
  };
  const kx = centred(x);
  const ky = centred(y);
  const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i], 0);
  return dot(kx, ky) / Math.sqrt(dot(kx, kx) * dot(ky, ky));
}

describe('text calibration', () => {
  it('averages one CKA matrix per batch of token rows, as f64 does', async () => {
    const gpu = await getGpu();
    const { desc, w } = model();
    const params = ParamStore.fromArrays(gpu, desc, w);
    const net = new Llama(gpu, desc, params);
    try {
      const T = 7;
      // 100 tokens: the train split holds 95, i.e. 13 windows of 7; calibrate on the first 5, batches of 2.
      const data = textWindows(tokens(100, 1), 'train', T, { name: 'ids' });
      const r = await calibrateText(gpu, net, data, { windows: 5, batchWindows: 2 });
      expect(r.cka.batches).toBe(3);
      expect(r.forwardPasses).toBe(3);
      const want = Array.from({ length: 3 }, () => new Float64Array(3));
      for (const [w0, b] of [
        [0, 2],
        [2, 2],
        [4, 1],
      ]) {
        const { hidden } = llamaRef(ref(3), w, data.ids.subarray(w0 * T, (w0 + b) * T), b, T);
        for (let i = 0; i < 3; i++)
          for (let j = 0; j < 3; j++) want[i][j] += ckaRef(hidden[i], hidden[j], b * T, H) / 3;
      }
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) {
          const expected = i === j ? 1 : want[i][j];
          expect(Math.abs(r.cka.matrix[i][j] - expected), `cka[${i}][${j}]`).toBeLessThanOrEqual(2e-4);
        }
      }
      await expect(calibrateText(gpu, net, data, { windows: 14 })).rejects.toThrow(
        /^samples 14: ids \(train\) has only 13 windows of 7 tokens/,
      );
    } finally {
      net.dispose();
      params.dispose();
    }
  });
});

describe('LLM GradNorm', () => {
  it('scores a candidate as the f64 finite-difference gradient norm of the pruned model, averaged over batches', async () => {
    const gpu = await getGpu();
    const { desc, w } = model();
    const params = ParamStore.fromArrays(gpu, desc, w);
    try {
      const B = 2;
      const T = 5;
      const batches = [0, 1].map((s) => ({ ids: Int32Array.from(tokens(B * T, 10 + s)), batch: B, seq: T }));
      const score = llmSegmentScorer(gpu, desc, params, [0, 3], batches);
      const got = await score([0, 2]);

      // f64: layer 1 removed, layer 2 renumbered 1; every parameter value perturbed in turn.
      const pw: Record<string, Float32Array> = {};
      for (const [k, v] of Object.entries(w)) {
        if (k.startsWith('model.layers.1.')) continue;
        pw[k.replace('model.layers.2.', 'model.layers.1.')] = v;
      }
      const keys = Object.keys(pw);
      const flat = Float64Array.from(keys.flatMap((k) => Array.from(pw[k])));
      const unflat = (v: Float64Array) => {
        const out: Record<string, Float64Array> = {};
        let o = 0;
        for (const k of keys) {
          out[k] = v.subarray(o, o + pw[k].length);
          o += pw[k].length;
        }
        return out;
      };
      let want = 0;
      for (const b of batches) {
        const v = Float64Array.from(flat);
        const eps = 1e-5;
        let sq = 0;
        for (let i = 0; i < v.length; i++) {
          const keep = v[i];
          v[i] = keep + eps;
          const up = llamaNllRef(ref(2), unflat(v), b.ids, B, T);
          v[i] = keep - eps;
          const down = llamaNllRef(ref(2), unflat(v), b.ids, B, T);
          v[i] = keep;
          sq += ((up - down) / (2 * eps)) ** 2;
        }
        want += Math.sqrt(sq) / batches.length;
      }
      expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-3 * want);
      // Another candidate prunes another layer: another score.
      expect(Math.abs((await score([1, 2])) - got)).toBeGreaterThan(1e-3 * want);
      await expect(score([0, 3])).rejects.toThrow(/unit 3 is outside segment \[0, 3\)/);
    } finally {
      params.dispose();
    }
  });
});

describe('LLM loss score', () => {
  it('scores a candidate as the f64 mean next-token NLL of the pruned model, averaged over batches', async () => {
    const gpu = await getGpu();
    const { desc, w } = model();
    const params = ParamStore.fromArrays(gpu, desc, w);
    try {
      const B = 2;
      const T = 5;
      const batches = [0, 1].map((s) => ({ ids: Int32Array.from(tokens(B * T, 20 + s)), batch: B, seq: T }));
      const counters = { forward: 0, backward: 0 };
      const score = llmSegmentScorer(gpu, desc, params, [0, 3], batches, { score: 'loss', counters });
      const got = await score([0, 1]);
      // Layer 2 removed: the first two layers as they are.
      const pw: Record<string, Float32Array> = {};
      for (const [k, v] of Object.entries(w)) if (!k.startsWith('model.layers.2.')) pw[k] = v;
      const want = batches.reduce((s, b) => s + llamaNllRef(ref(2), pw, b.ids, B, T) / batches.length, 0);
      expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-5 * want);
      // Forward only: no backward pass ran.
      expect(counters).toEqual({ forward: 2, backward: 0 });
    } finally {
      params.dispose();
    }
  });
});
