import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import type { ModelDescription } from '../../src/arch/types.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import { validateModelConfig } from '../../src/io/config.js';
import { Llama } from '../../src/nn/llama.js';
import { ParamStore } from '../../src/nn/params.js';
import { useGpu } from '../helpers/gpu.js';
import { numericGrad, pick, sampleIndices, worstVsMax } from '../helpers/grad-check.js';
import { type LlamaRefConfig, llamaNllRef, llamaRef } from '../helpers/llm-reference.js';
import { values } from '../helpers/reference.js';

const getGpu = useGpu();
// Forward: a few f32 layers of dot products over <= 32 terms; logits are O(1-10). Measured worst: 5e-7.
const REL = 2e-6;
// Gradients: f32 backward against f64 central differences of the f64 model (eps 1e-3 on O(0.3) weights:
// truncation error ~1e-7 relative); the f32 forward's rounding carries into the gradient. Measured worst:
// 2e-6 of the tensor's largest gradient.
const GRAD_REL = 2e-5;
const GRAD_ABS = 1e-6;
const EPS_FD = 1e-3;

interface Case {
  name: string;
  config: Record<string, unknown>;
  B: number;
  T: number;
}

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

const CASES: Case[] = [
  {
    name: 'Llama, GQA 4/2, untied, 2 layers',
    config: { ...base, architectures: ['LlamaForCausalLM'], num_hidden_layers: 2 },
    B: 2,
    T: 5,
  },
  {
    name: 'Llama, tied, llama3 rope scaling, head dim 8, 3 layers',
    config: {
      ...base,
      architectures: ['LlamaForCausalLM'],
      num_hidden_layers: 3,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      tie_word_embeddings: true,
      // Wavelengths 6.3, 63, 628, 6283 against 64 / 4 and 64 / 1: kept, blended, divided by the factor.
      rope_theta: 10000,
      rope_scaling: {
        rope_type: 'llama3',
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 64,
      },
    },
    B: 1,
    T: 7,
  },
  {
    name: 'Qwen2 (q/k/v biases), GQA 6/2, 2 layers',
    config: {
      ...base,
      architectures: ['Qwen2ForCausalLM'],
      model_type: 'qwen2',
      hidden_size: 24,
      num_attention_heads: 6,
      num_key_value_heads: 2,
      num_hidden_layers: 2,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000,
    },
    B: 2,
    T: 3,
  },
  {
    name: 'Llama with attention_bias and mlp_bias, MHA, tied',
    config: {
      ...base,
      architectures: ['LlamaForCausalLM'],
      num_hidden_layers: 2,
      num_key_value_heads: 4,
      attention_bias: true,
      mlp_bias: true,
      tie_word_embeddings: true,
    },
    B: 1,
    T: 4,
  },
];

function refConfig(d: ModelDescription): LlamaRefConfig {
  if (d.architecture !== 'llama') throw new Error('not a llama');
  const c = d.config;
  const s = c.rope_scaling;
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
    scaling: s
      ? {
          factor: s.factor,
          lowFreqFactor: s.low_freq_factor,
          highFreqFactor: s.high_freq_factor,
          originalMaxPositionEmbeddings: s.original_max_position_embeddings,
        }
      : undefined,
    tied: c.tie_word_embeddings,
    qkvBias: c.bias.qkv,
    oBias: c.bias.o,
    mlpBias: c.bias.mlp,
  };
}

/** Random weights: projections O(0.3), norm weights around 1, the embedding O(1). */
function weights(d: ModelDescription): Record<string, Float32Array> {
  const w: Record<string, Float32Array> = {};
  d.params.forEach((p, i) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const v = values(n, 1000 + 17 * i, p.key.includes('embed') ? 1 : 0.35);
    w[p.key] = p.key.endsWith('norm.weight') ? v.map((x) => 1 + x / 2) : v;
  });
  return w;
}

function tokenIds(n: number, vocab: number, seed: number): number[] {
  return Array.from(values(n, seed), (x) => Math.floor(((x + 1) / 2) * vocab) % vocab);
}

describe('Llama forward and backward vs an f64 Hugging Face reference', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const gpu = await getGpu();
      const d = describeModel(validateModelConfig(c.config));
      const rc = refConfig(d);
      const w = weights(d);
      const ids = tokenIds(c.B * c.T, rc.vocab, 7);
      const ref = llamaRef(rc, w, ids, c.B, c.T);
      const params = ParamStore.fromArrays(gpu, d, w);
      const model = new Llama(gpu, d, params);
      try {
        // Eval forward with captured hidden states.
        const captured: Float32Array[] = [];
        const tokens = model.tokens(ids, c.B, c.T);
        const { logits } = await model.forward(tokens, {
          capture: async (unit, hs) => {
            expect(hs.shape).toEqual([c.B * c.T, rc.hidden]);
            captured[unit] = await gpu.readF32(hs);
          },
        });
        const got = await gpu.readF32(logits);
        logits.dispose();
        tokens.dispose();
        expect(worstVsMax(got, ref.logits, REL), 'logits').toBeLessThanOrEqual(1);
        expect(captured.length).toBe(rc.layers);
        for (let l = 0; l < rc.layers; l++) {
          expect(worstVsMax(captured[l], ref.hidden[l], REL), `hidden ${l}`).toBeLessThanOrEqual(1);
        }

        // Loss and gradients of every weight.
        const loss = await model.nextTokenLoss(ids, c.B, c.T, { grads: true });
        const nllRef = llamaNllRef(rc, w, ids, c.B, c.T);
        expect(Math.abs(loss.nll - nllRef)).toBeLessThanOrEqual(1e-5 * Math.abs(nllRef));
        expect(loss.tokens).toBe(c.B * (c.T - 1));
        const grads = loss.grads as Map<string, Tensor>;
        expect([...grads.keys()]).toEqual(d.params.map((p) => p.key));
        for (const [key, g] of grads) {
          const gv = await gpu.readF32(g);
          g.dispose();
          const idx = sampleIndices(gv.length, 6);
          const fd = numericGrad(
            w[key],
            (v) => llamaNllRef(rc, { ...w, [key]: v }, ids, c.B, c.T),
            EPS_FD,
            idx,
          );
          // Scale: the largest gradient of the tensor (f32 error grows with it), at least the sampled ones.
          const want = Float64Array.from(gv, (x) => x);
          idx.forEach((i, n) => {
            want[i] = fd[n];
          });
          const err = worstVsMax(pick(gv, idx), fd, 0, GRAD_REL * maxAbs(want) + GRAD_ABS);
          expect(err, key).toBeLessThanOrEqual(1);
        }
        // Eval-mode loss matches the train-mode one.
        const evalLoss = await model.nextTokenLoss(ids, c.B, c.T);
        expect(evalLoss.nll).toBeCloseTo(loss.nll, 6);
        expect(evalLoss.grads).toBeUndefined();
      } finally {
        model.dispose();
        params.dispose();
      }
    });
  }

  it('gives the same loss and gradients with the LM head run on slices of rows', async () => {
    const gpu = await getGpu();
    for (const c of [CASES[0], CASES[1]]) {
      const d = describeModel(validateModelConfig(c.config));
      const params = ParamStore.fromArrays(gpu, d, weights(d));
      const model = new Llama(gpu, d, params);
      const ids = tokenIds(c.B * c.T, d.numClasses, 9);
      const whole = await model.nextTokenLoss(ids, c.B, c.T, { grads: true });
      // 3 rows per slice: slices end inside windows and the last one is short (10 or 7 rows).
      const sliced = await model.nextTokenLoss(ids, c.B, c.T, { grads: true, headRows: 3 });
      expect(sliced.tokens).toBe(whole.tokens);
      expect(Math.abs(sliced.nll - whole.nll)).toBeLessThanOrEqual(1e-6 * whole.nll);
      const evalSliced = await model.nextTokenLoss(ids, c.B, c.T, { headRows: 4 });
      expect(Math.abs(evalSliced.nll - whole.nll)).toBeLessThanOrEqual(1e-6 * whole.nll);
      for (const [key, g] of whole.grads ?? []) {
        const a = await gpu.readF32(g);
        const b = await gpu.readF32(sliced.grads?.get(key) as Tensor);
        expect(worstVsMax(b, a, 1e-5), key).toBeLessThanOrEqual(1);
      }
      for (const g of [...(whole.grads?.values() ?? []), ...(sliced.grads?.values() ?? [])]) g.dispose();
      model.dispose();
      params.dispose();
    }
  });

  it('refuses a description of another architecture and tokens outside the vocabulary', async () => {
    const gpu = await getGpu();
    const d = describeModel(
      validateModelConfig({ ...base, architectures: ['LlamaForCausalLM'], num_hidden_layers: 1 }),
    );
    const params = ParamStore.fromArrays(gpu, d, weights(d));
    const model = new Llama(gpu, d, params);
    expect(() => model.tokens([0, 37], 1, 2)).toThrow('token 1 has id 37, expected an integer in [0, 37)');
    const cnn = describeModel(
      validateModelConfig({
        architecture: 'cifar-resnet',
        depth: 20,
        shortcut: 'A',
        in_channels: 1,
        num_classes: 10,
        input_size: [1, 8, 8],
        normalize: { mean: [0], std: [1] },
      }),
    );
    expect(() => new Llama(gpu, cnn, params)).toThrow("Llama runs architecture 'llama', got 'cifar-resnet'");
    const tokens = model.tokens([1, 2, 3], 1, 3);
    await expect(model.forward(tokens, { train: true })).rejects.toThrow(
      'needs tokens uploaded with their index',
    );
    tokens.dispose();
    model.dispose();
    params.dispose();
  });
});

function maxAbs(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]));
  return m;
}
