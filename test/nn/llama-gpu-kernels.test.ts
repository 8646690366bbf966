// A whole LLaMA layer stack on the discrete-GPU kernel family (tiled GEMM, flash attention), forced on
// whatever adapter runs the tests (lavapipe in CI). The model is wide enough (64 hidden, 40 tokens) that
// every projection, its weight gradient and the LM head take the tiled kernel, not the plain fallback for
// thin shapes. Forward against the f64 Hugging Face reference; loss and every gradient against the same
// model on the plain kernels (which test/nn/llama.test.ts checks against finite differences).
import { describe, expect, it, vi } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import { validateModelConfig } from '../../src/io/config.js';
import { Llama } from '../../src/nn/llama.js';
import { ParamStore } from '../../src/nn/params.js';
import { tiledGemmFits } from '../../src/ops/linalg/gemm-tiled.js';
import { useGpu } from '../helpers/gpu.js';
import { worstVsMax } from '../helpers/grad-check.js';
import { llamaNllRef, llamaRef } from '../helpers/llm-reference.js';
import { values } from '../helpers/reference.js';

const getGpu = useGpu();
// Dot products of up to 96 terms in f32 (llama.test.ts: 2e-6 for up to 32 terms); gradients of the two
// kernel families differ only by f32 summation order.
const REL = 4e-6;
const GRAD_REL = 1e-5;

const config = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 64,
  intermediate_size: 96,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 2,
  vocab_size: 40,
  rms_norm_eps: 1e-5,
  max_position_embeddings: 64,
};
const [B, T] = [2, 20];

describe('Llama on the discrete-GPU kernels', () => {
  it('matches the f64 reference forward and the plain kernels loss and gradients', async () => {
    const gpu = await getGpu();
    const d = describeModel(validateModelConfig(config));
    expect(tiledGemmFits({ m: B * T, n: config.vocab_size, k: config.hidden_size, batch: 1 })).toBe(true);
    const w: Record<string, Float32Array> = {};
    d.params.forEach((p, i) => {
      const n = p.shape.reduce((a, b) => a * b, 1);
      const v = values(n, 500 + 13 * i, p.key.includes('embed') ? 1 : 0.2);
      w[p.key] = p.key.endsWith('norm.weight') ? v.map((x) => 1 + x / 2) : v;
    });
    const ids = Array.from(values(B * T, 3), (x) => Math.floor(((x + 1) / 2) * config.vocab_size) % 40);
    const rc = {
      hidden: 64,
      intermediate: 96,
      heads: 4,
      kvHeads: 2,
      headDim: 16,
      vocab: 40,
      layers: 2,
      eps: 1e-5,
      theta: 10000,
      scaling: undefined,
      tied: false,
      qkvBias: false,
      oBias: false,
      mlpBias: false,
    };
    const params = ParamStore.fromArrays(gpu, d, w);
    const model = new Llama(gpu, d, params);
    const before = gpu.kernels;
    try {
      const spy = vi.spyOn(gpu, 'dispatch');
      const run = async (kernels: 'gpu' | 'plain') => {
        gpu.kernels = kernels;
        spy.mockClear();
        const tokens = model.tokens(ids, B, T);
        const { logits } = await model.forward(tokens);
        const got = await gpu.readF32(logits);
        logits.dispose();
        tokens.dispose();
        const loss = await model.nextTokenLoss(ids, B, T, { grads: true });
        const grads = new Map<string, Float32Array>();
        for (const [key, g] of loss.grads as Map<string, Tensor>) {
          grads.set(key, await gpu.readF32(g));
          g.dispose();
        }
        const names = new Set(spy.mock.calls.map(([dispatch]) => dispatch.kernel.name));
        return { logits: got, nll: loss.nll, grads, names };
      };
      const fast = await run('gpu');
      const plain = await run('plain');
      spy.mockRestore();
      // Every GEMM and attention launch took the family asked for.
      for (const k of ['gemm.tiled', 'attention.flash', 'attention.flash.dq', 'attention.flash.dkdv']) {
        expect(fast.names.has(k), k).toBe(true);
        expect(plain.names.has(k), k).toBe(false);
      }
      for (const k of ['gemm', 'attention', 'attention.dq', 'attention.dkdv']) {
        expect(fast.names.has(k), k).toBe(false);
        expect(plain.names.has(k), k).toBe(true);
      }
      const ref = llamaRef(rc, w, ids, B, T);
      expect(worstVsMax(fast.logits, ref.logits, REL), 'logits').toBeLessThanOrEqual(1);
      const nllRef = llamaNllRef(rc, w, ids, B, T);
      expect(Math.abs(fast.nll - nllRef)).toBeLessThanOrEqual(1e-5 * Math.abs(nllRef));
      expect([...fast.grads.keys()]).toEqual(d.params.map((p) => p.key));
      for (const [key, g] of fast.grads) {
        expect(worstVsMax(g, plain.grads.get(key) as Float32Array, GRAD_REL), key).toBeLessThanOrEqual(1);
      }
    } finally {
      gpu.kernels = before;
      model.dispose();
      params.dispose();
    }
  });
});
