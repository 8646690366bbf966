import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import type { ModelDescription } from '../../src/arch/types.js';
import { validateModelConfig } from '../../src/io/config.js';
import { textWindows } from '../../src/io/text-data.js';
import { Llama } from '../../src/nn/llama.js';
import { ParamStore } from '../../src/nn/params.js';
import {
  initLmArrays,
  LM_INIT_STD,
  lmStepsPerEpoch,
  runLmEpochs,
  warmupCosineLr,
  windowOrder,
} from '../../src/train/lm-loop.js';
import { ADAMW_DEFAULTS, Optimizer } from '../../src/train/optimizer.js';
import { useGpu } from '../helpers/gpu.js';

const getGpu = useGpu();

function tinyDesc(): ModelDescription {
  return describeModel(
    validateModelConfig({
      architectures: ['LlamaForCausalLM'],
      hidden_size: 16,
      intermediate_size: 24,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      vocab_size: 256,
      rms_norm_eps: 1e-5,
      max_position_embeddings: 32,
      tie_word_embeddings: true,
    }),
  );
}

const TEXT = new TextEncoder().encode(
  `${'the cat sat on the mat. the dog sat on the log. '.repeat(12)}a tail of odd bytes`,
);

describe('LM training schedule and data order', () => {
  it('warms up linearly, then decays by cosine to 0 at the last step', () => {
    const [base, warm, total] = [0.01, 4, 20];
    expect(warmupCosineLr(base, 0, warm, total)).toBeCloseTo(0.0025, 15);
    expect(warmupCosineLr(base, 3, warm, total)).toBeCloseTo(0.01, 15);
    expect(warmupCosineLr(base, 4, warm, total)).toBeCloseTo(0.01, 15);
    const mid = 4 + 8; // half of the 16 cosine steps
    expect(warmupCosineLr(base, mid, warm, total)).toBeCloseTo(0.005, 15);
    expect(warmupCosineLr(base, total, warm, total)).toBeCloseTo(0, 15);
    expect(warmupCosineLr(base, 5, 0, total)).toBeCloseTo(
      (base * (1 + Math.cos((Math.PI * 5) / 20))) / 2,
      15,
    );
  });

  it('shuffles windows as a seeded permutation, another for each epoch', () => {
    const a = windowOrder(37, 5, 0);
    expect([...a].sort((x, y) => x - y)).toEqual([...Array(37).keys()]);
    expect([...windowOrder(37, 5, 0)]).toEqual([...a]);
    expect([...windowOrder(37, 5, 1)]).not.toEqual([...a]);
    expect([...windowOrder(37, 6, 0)]).not.toEqual([...a]);
    expect(lmStepsPerEpoch(37, 8)).toBe(5);
  });

  it('initialises like transformers: matrices N(0, 0.02²), RMSNorm weights 1, seeded', () => {
    const desc = tinyDesc();
    const a = initLmArrays(desc, 3);
    const b = initLmArrays(desc, 3);
    const emb = a['model.embed_tokens.weight'];
    expect(emb).toEqual(b['model.embed_tokens.weight']);
    expect(initLmArrays(desc, 4)['model.embed_tokens.weight']).not.toEqual(emb);
    let s = 0;
    let s2 = 0;
    for (const x of emb) {
      s += x;
      s2 += x * x;
    }
    const mean = s / emb.length;
    const std = Math.sqrt(s2 / emb.length - mean * mean);
    // 4096 samples: the sample std is within ~2% of sigma with overwhelming probability.
    expect(Math.abs(std / LM_INIT_STD - 1)).toBeLessThan(0.05);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect([...a['model.norm.weight']].every((x) => x === 1)).toBe(true);
    expect([...a['model.layers.1.input_layernorm.weight']].every((x) => x === 1)).toBe(true);
  });
});

describe('runLmEpochs', () => {
  it('first step = one AdamW step on the first shuffled batch at the warmup learning rate', async () => {
    const gpu = await getGpu();
    const desc = tinyDesc();
    const data = textWindows(TEXT, 'train', 16);
    const [batch, seed, lr, warmup] = [3, 7, 0.01, 2];
    const runs = [0, 1].map(() => {
      const params = ParamStore.fromArrays(gpu, desc, initLmArrays(desc, 1));
      return {
        params,
        net: new Llama(gpu, desc, params),
        opt: new Optimizer(gpu, { kind: 'adamw', ...ADAMW_DEFAULTS }),
      };
    });
    try {
      await runLmEpochs(gpu, runs[0].net, runs[0].params, runs[0].opt, data, {
        epochs: 2,
        batch,
        lr,
        warmup,
        seed,
        maxSteps: 1,
      });
      const order = windowOrder(data.windows, seed, 0);
      const ids = new Int32Array(batch * 16);
      for (let j = 0; j < batch; j++) ids.set(data.ids.subarray(order[j] * 16, (order[j] + 1) * 16), j * 16);
      const r = await runs[1].net.nextTokenLoss(ids, batch, 16, { grads: true });
      const keys = runs[1].params.trainableKeys();
      const grads = r.grads;
      if (!grads) throw new Error('no gradients');
      runs[1].opt.step(
        keys.map((k) => runs[1].params.get(k)),
        keys.map((k) => grads.get(k) as never),
        lr / warmup,
      );
      for (const g of grads.values()) g.dispose();
      for (const k of keys) {
        const a = await gpu.readF32(runs[0].params.get(k));
        const b = await gpu.readF32(runs[1].params.get(k));
        expect(a, k).toEqual(b);
      }
      const moved = await gpu.readF32(runs[0].params.get('model.embed_tokens.weight'));
      expect(moved).not.toEqual(initLmArrays(desc, 1)['model.embed_tokens.weight']);
    } finally {
      for (const r of runs) {
        r.net.dispose();
        r.opt.dispose();
        r.params.dispose();
      }
    }
  });

  it('lowers the training and held-out NLL of a repetitive text', async () => {
    const gpu = await getGpu();
    const desc = tinyDesc();
    const params = ParamStore.fromArrays(gpu, desc, initLmArrays(desc, 0));
    const net = new Llama(gpu, desc, params);
    const opt = new Optimizer(gpu, { kind: 'adamw', ...ADAMW_DEFAULTS });
    const train = textWindows(TEXT, 'train', 16);
    const test = textWindows(TEXT, 'test', 16);
    try {
      const before = await net.nextTokenLoss(test.ids, test.windows, 16);
      const steps: number[] = [];
      const records = await runLmEpochs(gpu, net, params, opt, train, {
        epochs: 4,
        batch: 8,
        lr: 0.01,
        warmup: 2,
        seed: 0,
        onProgress: (p) => {
          if (p.type === 'step') steps.push(p.step);
        },
      });
      const after = await net.nextTokenLoss(test.ids, test.windows, 16);
      expect(records.map((r) => r.epoch)).toEqual([1, 2, 3, 4]);
      expect(steps.length).toBe(4 * lmStepsPerEpoch(train.windows, 8));
      // ln 256 = 5.55 at the start; the text repeats a 48-byte sentence pair.
      expect(before.nll).toBeGreaterThan(5);
      expect(records[3].trainLoss).toBeLessThan(records[0].trainLoss - 1);
      expect(after.nll).toBeLessThan(before.nll - 1);
      expect(records.every((r) => r.tokensPerSecond > 0 && r.lr >= 0)).toBe(true);
      expect(records[3].lr).toBeLessThan(records[0].lr);
    } finally {
      net.dispose();
      opt.dispose();
      params.dispose();
    }
  });

  it('refuses a warmup as long as the run', async () => {
    const gpu = await getGpu();
    const desc = tinyDesc();
    const params = ParamStore.fromArrays(gpu, desc, initLmArrays(desc, 0));
    const net = new Llama(gpu, desc, params);
    const opt = new Optimizer(gpu, { kind: 'adamw', ...ADAMW_DEFAULTS });
    try {
      const train = textWindows(TEXT, 'train', 16);
      const steps = lmStepsPerEpoch(train.windows, 8);
      await expect(
        runLmEpochs(gpu, net, params, opt, train, { epochs: 1, batch: 8, lr: 0.01, warmup: steps, seed: 0 }),
      ).rejects.toThrow(/--warmup/);
    } finally {
      net.dispose();
      opt.dispose();
      params.dispose();
    }
  });
});
