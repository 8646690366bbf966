// The mixed-precision LLaMA path (--precision f16): weight matrices stored as f16, GEMMs widening them and
// accumulating in f32, everything else f32. Two kinds of check:
// - exactness: against the f64 reference run on the f16-rounded matrices, the f16 path must agree to f32
//   precision (the same tolerances as the all-f32 path), forward and gradients (central differences).
//   This is what proves the activations, norms, softmax and loss stay f32.
// - closeness to the f32 model on the original weights: logits within 2e-3 of their largest magnitude,
//   CKA within 2e-3 (what a user gets from switching precision).

import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import type { ModelDescription, ParamSpec } from '../../src/arch/types.js';
import type { Gpu } from '../../src/gpu/device.js';
import { bucketSize } from '../../src/gpu/pool.js';
import { bytesPerElement, Tensor } from '../../src/gpu/tensor.js';
import { validateModelConfig } from '../../src/io/config.js';
import type { TextWindows } from '../../src/io/text-data.js';
import { Llama } from '../../src/nn/llama.js';
import { ParamStore, type Precision, storageDType } from '../../src/nn/params.js';
import { decodeF16, encodeF16 } from '../../src/num/half.js';
import { gemm } from '../../src/ops/linalg/gemm.js';
import { calibrateText } from '../../src/sglp/calibrate-text.js';
import { useGpu } from '../helpers/gpu.js';
import { numericGrad, pick, sampleIndices, worstVsMax } from '../helpers/grad-check.js';
import { type LlamaRefConfig, llamaNllRef, llamaRef } from '../helpers/llm-reference.js';
import { values } from '../helpers/reference.js';

const getGpu = useGpu();
// Exactness tolerances: those of test/nn/llama.test.ts (f32 forward and backward vs f64).
const REL = 2e-6;
const GRAD_REL = 2e-5;
const GRAD_ABS = 1e-6;
const EPS_FD = 1e-3;
// f16 vs f32 weights: each matrix entry moves by up to 2^-11 relative; over 2-3 layers the logits move by
// up to 7.0e-4 of their scale (measured on these fixtures). Stated bound: 2e-3 of the largest |logit|.
const F16_REL = 2e-3;

const base = {
  model_type: 'llama',
  hidden_size: 16,
  intermediate_size: 24,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 37,
  rms_norm_eps: 1e-5,
  max_position_embeddings: 64,
};

const CASES = [
  {
    name: 'Llama, GQA 4/2, untied, 2 layers',
    config: { ...base, architectures: ['LlamaForCausalLM'], num_hidden_layers: 2 },
    B: 2,
    T: 5,
  },
  {
    name: 'Qwen2 (q/k/v biases), tied, 3 layers',
    config: {
      ...base,
      architectures: ['Qwen2ForCausalLM'],
      model_type: 'qwen2',
      hidden_size: 24,
      num_attention_heads: 6,
      num_key_value_heads: 2,
      num_hidden_layers: 3,
      tie_word_embeddings: true,
      rms_norm_eps: 1e-6,
    },
    B: 1,
    T: 7,
  },
];

function refConfig(d: ModelDescription): LlamaRefConfig {
  if (d.architecture !== 'llama') throw new Error('not a llama');
  const c = d.config;
  return {
    hidden: c.hidden_size,
    intermediate: c.intermediate_size,
    heads: c.num_attention_heads,
    kvHeads: c.num_key_value_heads,
    headDim: c.head_dim,
    vocab: c.vocab_size,
    layers: c.num_hidden_layers,
    eps: c.rms_norm_eps,
    theta: c.rope_theta,
    scaling: undefined,
    tied: c.tie_word_embeddings,
    qkvBias: c.bias.qkv,
    oBias: c.bias.o,
    mlpBias: c.bias.mlp,
  };
}

/** Random weights as in llama.test.ts: projections O(0.35), norm weights around 1, the embedding O(1). */
function weights(d: ModelDescription, seed = 1000): Record<string, Float32Array> {
  const w: Record<string, Float32Array> = {};
  d.params.forEach((p, i) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const v = values(n, seed + 17 * i, p.key.includes('embed') ? 1 : 0.35);
    w[p.key] = p.key.endsWith('norm.weight') ? v.map((x) => 1 + x / 2) : v;
  });
  return w;
}

/** The weights the f16 path computes with: every f16-stored tensor rounded to f16. */
function rounded(d: ModelDescription, w: Record<string, Float32Array>): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const p of d.params) {
    out[p.key] = storageDType(p, 'f16') === 'f16' ? decodeF16(encodeF16(w[p.key])) : w[p.key];
  }
  return out;
}

function tokenIds(n: number, vocab: number, seed: number): number[] {
  return Array.from(values(n, seed), (x) => Math.floor(((x + 1) / 2) * vocab) % vocab);
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, x) => Math.max(m, Math.abs(x)), 0);

async function logitsOf(
  gpu: Gpu,
  d: ModelDescription,
  w: Record<string, Float32Array>,
  ids: number[],
  B: number,
  T: number,
  precision: Precision,
) {
  const params = ParamStore.fromArrays(gpu, d, w, { precision });
  const model = new Llama(gpu, d, params);
  try {
    const tokens = model.tokens(ids, B, T);
    const { logits } = await model.forward(tokens);
    const out = await gpu.readF32(logits);
    logits.dispose();
    tokens.dispose();
    return out;
  } finally {
    model.dispose();
    params.dispose();
  }
}

describe('storageDType', () => {
  it('stores rank-2 weights as f16 under f16 and everything else as f32', () => {
    const spec = (key: string, shape: number[], kind: ParamSpec['kind'] = 'weight') =>
      ({ key, shape, kind }) as ParamSpec;
    expect(storageDType(spec('model.layers.0.self_attn.q_proj.weight', [8, 8]), 'f16')).toBe('f16');
    expect(storageDType(spec('model.embed_tokens.weight', [37, 8]), 'f16')).toBe('f16');
    expect(storageDType(spec('model.norm.weight', [8]), 'f16')).toBe('f32');
    expect(storageDType(spec('model.layers.0.self_attn.q_proj.bias', [8], 'bias'), 'f16')).toBe('f32');
    expect(storageDType(spec('model.layers.0.self_attn.q_proj.weight', [8, 8]), 'f32')).toBe('f32');
  });
});

describe('Llama with f16 weight matrices', () => {
  for (const c of CASES) {
    it(`${c.name}: forward and gradients match the f64 model on the rounded weights`, async () => {
      const gpu = await getGpu();
      expect(gpu.hasF16, 'lavapipe through Dawn offers shader-f16').toBe(true);
      const d = describeModel(validateModelConfig(c.config));
      const rc = refConfig(d);
      const w = rounded(d, weights(d));
      const ids = tokenIds(c.B * c.T, rc.vocab, 7);
      const ref = llamaRef(rc, w, ids, c.B, c.T);
      const params = ParamStore.fromArrays(gpu, d, w, { precision: 'f16' });
      const model = new Llama(gpu, d, params);
      try {
        for (const p of d.params) expect(params.get(p.key).dtype, p.key).toBe(storageDType(p, 'f16'));
        const tokens = model.tokens(ids, c.B, c.T);
        const { logits } = await model.forward(tokens);
        const got = await gpu.readF32(logits);
        logits.dispose();
        tokens.dispose();
        expect(worstVsMax(got, ref.logits, REL), 'logits').toBeLessThanOrEqual(1);

        const loss = await model.nextTokenLoss(ids, c.B, c.T, { grads: true });
        const nllRef = llamaNllRef(rc, w, ids, c.B, c.T);
        expect(Math.abs(loss.nll - nllRef)).toBeLessThanOrEqual(1e-5 * Math.abs(nllRef));
        const grads = loss.grads as Map<string, Tensor>;
        expect([...grads.keys()]).toEqual(d.params.map((p) => p.key));
        for (const [key, g] of grads) {
          expect(g.dtype, `${key} gradient`).toBe('f32');
          const gv = await gpu.readF32(g);
          g.dispose();
          const idx = sampleIndices(gv.length, 6);
          const fd = numericGrad(
            w[key],
            (v) => llamaNllRef(rc, { ...w, [key]: v }, ids, c.B, c.T),
            EPS_FD,
            idx,
          );
          const want = Float64Array.from(gv, (x) => x);
          idx.forEach((i, n) => {
            want[i] = fd[n];
          });
          const err = worstVsMax(pick(gv, idx), fd, 0, GRAD_REL * maxAbs(want) + GRAD_ABS);
          expect(err, key).toBeLessThanOrEqual(1);
        }
      } finally {
        model.dispose();
        params.dispose();
      }
    });

    it(`${c.name}: logits within ${F16_REL} of the f32 model's scale`, async () => {
      const gpu = await getGpu();
      const d = describeModel(validateModelConfig(c.config));
      const w = weights(d, 3000);
      const ids = tokenIds(c.B * c.T, d.numClasses, 11);
      const f32 = await logitsOf(gpu, d, w, ids, c.B, c.T, 'f32');
      const f16 = await logitsOf(gpu, d, w, ids, c.B, c.T, 'f16');
      expect(worstVsMax(f16, f32, F16_REL)).toBeLessThanOrEqual(1);
      // The rounding is visible (the f16 path really ran on f16 weights), far below the bound.
      expect(worstVsMax(f16, f32, 1e-7)).toBeGreaterThan(1);
    });
  }

  it('holds the weights in about half the device memory', async () => {
    const gpu = await getGpu();
    const d = describeModel(
      validateModelConfig({
        ...base,
        architectures: ['LlamaForCausalLM'],
        hidden_size: 64,
        intermediate_size: 160,
        vocab_size: 300,
        num_hidden_layers: 2,
      }),
    );
    const w = weights(d);
    const bytes: Record<Precision, number> = { f32: 0, f16: 0 };
    for (const precision of ['f32', 'f16'] as const) {
      const before = gpu.pool.liveBytes;
      const params = ParamStore.fromArrays(gpu, d, w, { precision });
      bytes[precision] = gpu.pool.liveBytes - before;
      params.dispose();
      const want = d.params.reduce((s, p) => {
        const n = p.shape.reduce((a, b) => a * b, 1);
        return s + bucketSize(n * bytesPerElement[storageDType(p, precision)]);
      }, 0);
      expect(bytes[precision], precision).toBe(want);
    }
    // Only the norm weights stay f32 (measured: 296192 / 591104 bytes = 0.501).
    expect(bytes.f16 / bytes.f32).toBeGreaterThan(0.5);
    expect(bytes.f16 / bytes.f32).toBeLessThan(0.52);
  });

  it('gives CKA matrices close to the f32 model', async () => {
    const gpu = await getGpu();
    const d = describeModel(
      validateModelConfig({
        ...base,
        architectures: ['LlamaForCausalLM'],
        hidden_size: 32,
        num_hidden_layers: 4,
      }),
    );
    const w = weights(d, 5000);
    const T = 8;
    const count = 4;
    const ids = Int32Array.from(tokenIds(count * T, d.numClasses, 13));
    const text: TextWindows = {
      name: 'tiny',
      split: 'train',
      seqLen: T,
      windows: count,
      splitTokens: count * T,
      ids,
    };
    const matrices: number[][][] = [];
    for (const precision of ['f32', 'f16'] as const) {
      const params = ParamStore.fromArrays(gpu, d, w, { precision });
      const model = new Llama(gpu, d, params);
      try {
        const { cka } = await calibrateText(gpu, model, text, { windows: count, batchWindows: 2 });
        matrices.push(cka.matrix);
      } finally {
        model.dispose();
        params.dispose();
      }
    }
    const [a, b] = matrices;
    const diff = Math.max(...a.flatMap((row, i) => row.map((x, j) => Math.abs(x - b[i][j]))));
    // Measured: 1.1e-4.
    expect(diff).toBeLessThan(2e-3);
  });

  it('rejects values beyond float16 range and adapters without shader-f16, naming them', async () => {
    const gpu = await getGpu();
    const d = describeModel(
      validateModelConfig({ ...base, architectures: ['LlamaForCausalLM'], num_hidden_layers: 1 }),
    );
    const w = weights(d);
    const key = 'model.layers.0.mlp.up_proj.weight';
    w[key] = w[key].slice();
    w[key][5] = 70000;
    const live = gpu.pool.liveBytes;
    expect(() => ParamStore.fromArrays(gpu, d, w, { precision: 'f16' })).toThrow(
      `"${key}"[5] = 70000 is beyond float16's range`,
    );
    expect(gpu.pool.liveBytes).toBe(live);
    ParamStore.fromArrays(gpu, d, w, { precision: 'f32' }).dispose();

    // An adapter without the feature: only what the checks read before touching the device.
    const noF16 = { hasF16: false, adapter: { description: 'test adapter' } } as unknown as Gpu;
    expect(() => ParamStore.fromArrays(noF16, d, weights(d), { precision: 'f16' })).toThrow(
      'precision f16 needs the adapter feature shader-f16, which test adapter lacks',
    );
    const buf = {} as GPUBuffer;
    const x = new Tensor(noF16, [2, 3], 'f32', buf, false);
    const wt = new Tensor(noF16, [4, 3], 'f16', buf, false);
    expect(() => gemm(noF16, x, wt, { transB: true })).toThrow(/B f16.*needs the adapter feature shader-f16/);
  });
});
