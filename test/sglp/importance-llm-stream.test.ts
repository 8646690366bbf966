import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { pruneModel } from '../../src/arch/prune.js';
import { DeviceMemoryError } from '../../src/gpu/pool.js';
import { validateModelConfig } from '../../src/io/config.js';
import { inverseKeyMap, renamedStore } from '../../src/io/renamed-store.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { Llama } from '../../src/nn/llama.js';
import { layerKeys } from '../../src/nn/llama-stream.js';
import { streamLlamaLoss } from '../../src/nn/llama-stream-grad.js';
import { ParamStore } from '../../src/nn/params.js';
import { openFileSource } from '../../src/node/files.js';
import { gradNorm } from '../../src/ops/reduce/grad-norm.js';
import { llmSegmentScorer, type TextBatch } from '../../src/sglp/importance-llm.js';
import { streamedLlmSegmentScorer } from '../../src/sglp/importance-llm-stream.js';
import { useGpu } from '../helpers/gpu.js';
import { f32Checkpoint, llamaWeights } from '../helpers/llama-checkpoint.js';
import { values } from '../helpers/reference.js';

const getGpu = useGpu();

const LLAMA = {
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
  hidden_size: 32,
  intermediate_size: 56,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 5,
  vocab_size: 37,
  rms_norm_eps: 1e-5,
  max_position_embeddings: 64,
};
const QWEN = {
  ...LLAMA,
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_size: 24,
  intermediate_size: 40,
  num_attention_heads: 6,
  num_key_value_heads: 2,
  num_hidden_layers: 4,
  tie_word_embeddings: true,
};
/** Weight-heavy shapes for the memory-cap test: a layer's weights outweigh a few windows' activations. */
const WIDE = { hidden_size: 64, intermediate_size: 192, num_attention_heads: 4, num_hidden_layers: 6 };
const T = 7; // not a multiple of any tile

function setup(config: Record<string, unknown>) {
  const desc = describeModel(validateModelConfig(config));
  if (desc.architecture !== 'llama') throw new Error('not a llama');
  const w = llamaWeights(
    desc,
    (i) => 900 + 17 * i,
    (key) => key.includes('embed') || key.includes('lm_head'),
  );
  return { desc, net: desc.net, w };
}

/** Batches of 2 and 1 windows (uneven on purpose), ids from a fixed sequence. */
function batchesOf(vocab: number): TextBatch[] {
  const ids = Int32Array.from(values(3 * T, 71), (x) => Math.floor(((x + 1) / 2) * vocab) % vocab);
  return [
    { ids: ids.subarray(0, 2 * T), batch: 2, seq: T },
    { ids: ids.subarray(2 * T), batch: 1, seq: T },
  ];
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('streamed GradNorm (layer streaming with recomputation)', () => {
  for (const [name, config] of [
    ['Llama, GQA 4/2, untied', LLAMA],
    ['Qwen2 (q/k/v biases), GQA 6/2, tied', QWEN],
  ] as const) {
    it(`${name}: per-batch loss and GradNorm equal Llama.nextTokenLoss with grads`, async () => {
      const gpu = await getGpu();
      const { desc, w } = setup(config);
      const st = await f32Checkpoint(desc, w, 'tiny.safetensors');
      const batches = batchesOf(desc.numClasses);
      const params = ParamStore.fromArrays(gpu, desc, w);
      const model = new Llama(gpu, desc, params);
      const want: { sum: number; tokens: number; norm: number }[] = [];
      try {
        for (const b of batches) {
          // headRows 3 slices the LM head on both sides: the slice loop and its head-gradient sum run too.
          const r = await model.nextTokenLoss(b.ids, b.batch, b.seq, { grads: true, headRows: 3 });
          const grads = r.grads as NonNullable<typeof r.grads>;
          want.push({ sum: r.sum, tokens: r.tokens, norm: await gradNorm(gpu, [...grads.values()]) });
          for (const g of grads.values()) g.dispose();
        }
      } finally {
        model.dispose();
        params.dispose();
      }
      for (const hostStates of [false, true]) {
        const live = gpu.pool.liveBytes;
        const progress: number[] = [];
        const got = await streamLlamaLoss(gpu, desc, st, batches, {
          grads: true,
          hostStates,
          headRows: 3,
          onProgress: (d) => progress.push(d),
        });
        expect(got.batches.map((b) => b.tokens)).toEqual(want.map((b) => b.tokens));
        got.batches.forEach((b, i) => {
          // Same ops on the same values: the loss is bit-equal; the f64 sum of squares runs in another order.
          expect(b.sum).toBe(want[i].sum);
          expect(rel(b.gradNorm as number, want[i].norm)).toBeLessThan(1e-12);
        });
        const L = desc.units.length;
        expect(progress).toEqual(Array.from({ length: 2 * L + 1 }, (_, i) => i + 1));
        expect(gpu.pool.liveBytes).toBe(live);
        // Loss only: the same NLL, no GradNorm.
        const evalOnly = await streamLlamaLoss(gpu, desc, st, batches, { hostStates, headRows: 3 });
        expect(evalOnly.batches.map((b) => b.sum)).toEqual(want.map((b) => b.sum));
        expect(evalOnly.batches[0].gradNorm).toBeUndefined();
        expect(gpu.pool.liveBytes).toBe(live);
      }
    });
  }

  it('a pruned candidate scores as llmSegmentScorer, under a cap the loaded model does not fit', async () => {
    const gpu = await getGpu();
    for (const config of [
      { ...LLAMA, ...WIDE },
      { ...QWEN, ...WIDE },
    ]) {
      const { desc, net, w } = setup(config);
      const st = await f32Checkpoint(desc, w, 'tiny.safetensors');
      const batches = batchesOf(desc.numClasses);
      const segment = [1, 4] as const;
      const params = ParamStore.fromArrays(gpu, desc, w);
      const loaded = llmSegmentScorer(gpu, desc, params, segment, batches);
      const want = [await loaded([1, 3]), await loaded([2])];
      const lossOf = llmSegmentScorer(gpu, desc, params, segment, batches, { score: 'loss' });
      const wantLoss = [await lossOf([1, 3]), await lossOf([2])];
      params.dispose();
      expect(rel(want[0], want[1])).toBeGreaterThan(1e-3); // the candidates differ, so the check can fail

      const modelBytes = desc.params.reduce((a, p) => a + 4 * p.shape.reduce((x, y) => x * y, 1), 0);
      const layerBytes = 4 * layerKeys(net.layers[0]).reduce((a, k) => a + w[k].length, 0);
      const cap = Math.floor(modelBytes / 2);
      const pool = gpu.pool;
      pool.trim();
      pool.memoryCap = cap;
      try {
        const err = await ParamStore.load(gpu, desc, st).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(DeviceMemoryError);
        let peak = 0;
        const counters = { forward: 0, backward: 0 };
        const streamed = streamedLlmSegmentScorer(gpu, desc, st, segment, batches, {
          counters,
          hostStates: true,
          onPeak: (b) => {
            peak = Math.max(peak, b);
          },
        });
        const got = [await streamed([1, 3]), await streamed([2])];
        got.forEach((g, i) => {
          expect(rel(g, want[i])).toBeLessThan(1e-12);
        });
        expect(counters).toEqual({ forward: 4, backward: 4 });
        // The loss score streamed: forward only, the loaded scorer's values.
        const streamedLoss = streamedLlmSegmentScorer(gpu, desc, st, segment, batches, {
          counters,
          hostStates: true,
          score: 'loss',
        });
        const gotLoss = [await streamedLoss([1, 3]), await streamedLoss([2])];
        gotLoss.forEach((g, i) => {
          expect(rel(g, wantLoss[i])).toBeLessThan(1e-6);
        });
        expect(rel(wantLoss[0], wantLoss[1])).toBeGreaterThan(1e-4);
        expect(counters).toEqual({ forward: 8, backward: 4 });
        expect(peak).toBeGreaterThan(layerBytes);
        expect(peak).toBeLessThanOrEqual(cap);
        console.log(
          `streamed GradNorm (${desc.name}): model ${modelBytes} bytes, cap ${cap}, peak ${peak} bytes, ` +
            `layer ${layerBytes} bytes; rel. diff ${got.map((g, i) => rel(g, want[i]).toExponential(2)).join(', ')}`,
        );
      } finally {
        pool.memoryCap = undefined;
      }
    }
  });

  it('the bundled trained fortunes-llama12 from disk: a pruned candidate under a cap of half its weights', async () => {
    const gpu = await getGpu();
    const dir = new URL('../../models/fortunes-llama12/', import.meta.url);
    const desc = describeModel(
      validateModelConfig(JSON.parse(await readFile(new URL('config.json', dir), 'utf8'))),
    );
    const st = await openSafetensors(await openFileSource(new URL('model.safetensors', dir).pathname));
    try {
      const seq = 16;
      const text = 'Recomputing a layer from its saved input keeps device memory flat. '.repeat(3);
      const ids = Int32Array.from(new TextEncoder().encode(text).subarray(0, 3 * seq));
      const batches: TextBatch[] = [
        { ids: ids.subarray(0, 2 * seq), batch: 2, seq },
        { ids: ids.subarray(2 * seq), batch: 1, seq },
      ];
      const segment = [3, 9] as const;
      const keep = [3, 5, 8];
      const params = await ParamStore.load(gpu, desc, st);
      let want: number;
      try {
        want = await llmSegmentScorer(gpu, desc, params, segment, batches)(keep);
      } finally {
        params.dispose();
      }
      const modelBytes = desc.params.reduce((a, p) => a + 4 * p.shape.reduce((x, y) => x * y, 1), 0);
      const cap = Math.floor(modelBytes / 2);
      gpu.pool.trim();
      gpu.pool.memoryCap = cap;
      try {
        let peak = 0;
        const got = await streamedLlmSegmentScorer(gpu, desc, st, segment, batches, {
          onPeak: (b) => {
            peak = Math.max(peak, b);
          },
        })(keep);
        expect(rel(got, want)).toBeLessThan(1e-12);
        expect(peak).toBeLessThanOrEqual(cap);
        console.log(
          `fortunes-llama12 streamed GradNorm (keep ${keep} of layers 3–8): ${got} vs loaded ${want}; ` +
            `weights ${modelBytes} bytes, cap ${cap}, peak ${peak} bytes`,
        );
      } finally {
        gpu.pool.memoryCap = undefined;
      }
    } finally {
      await st.close();
    }
  });

  it('the renamed view reads a pruned model under its original keys, and names a key it lacks', async () => {
    const { desc, w } = setup(LLAMA);
    const st = await f32Checkpoint(desc, w, 'tiny.safetensors');
    const pruned = pruneModel(desc, [0, 2]);
    const view = renamedStore(st, inverseKeyMap(pruned.keyMap));
    expect(await view.float32('model.layers.1.mlp.up_proj.weight')).toEqual(
      w['model.layers.3.mlp.up_proj.weight'],
    );
    expect(view.has('model.layers.3.mlp.up_proj.weight')).toBe(false);
    await expect(view.float32('model.layers.3.mlp.up_proj.weight')).rejects.toThrow(
      /no tensor "model.layers.3.mlp.up_proj.weight"/,
    );
  });
});
