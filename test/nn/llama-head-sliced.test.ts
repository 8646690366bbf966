// The LM head in vocabulary slices (llama-head-sliced.ts) against the whole head, in streamed loss and
// GradNorm: equal loss sums and GradNorms (tied and untied, hidden states on the device or the CPU), and a
// device-memory cap below the head's size holds.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { validateModelConfig } from '../../src/io/config.js';
import { headSliceRows, sliceAlign } from '../../src/nn/llama-head-sliced.js';
import { streamLlamaLoss } from '../../src/nn/llama-stream-grad.js';
import { llm, reduce } from '../../src/tunables.js';
import { useGpu } from '../helpers/gpu.js';
import { f32Checkpoint, llamaWeights } from '../helpers/llama-checkpoint.js';

const getGpu = useGpu();

// A vocabulary under 512 keeps d hidden's whole-head GEMM from splitting K (the condition for bit equality).
const CONFIG = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_size: 32,
  intermediate_size: 48,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 2,
  vocab_size: 500,
  rms_norm_eps: 1e-6,
  max_position_embeddings: 64,
};
const T = 9;

async function setup(tied: boolean) {
  const desc = describeModel(validateModelConfig({ ...CONFIG, tie_word_embeddings: tied }));
  if (desc.architecture !== 'llama') throw new Error('not a llama');
  const w = llamaWeights(
    desc,
    (i) => 70 + i,
    (key) => key.includes('embed') || key.includes('lm_head'),
  );
  const store = await f32Checkpoint(desc, w, 'sliced-head.safetensors');
  const ids = Int32Array.from({ length: 3 * T }, (_, i) => (i * 977 + 13) % CONFIG.vocab_size);
  ids[4] = ids[20] = 499; // the last slice's last row, twice
  const batches = [
    { ids: ids.subarray(0, 2 * T), batch: 2, seq: T },
    { ids: ids.subarray(2 * T), batch: 1, seq: T },
  ];
  return { desc, store, batches };
}

describe('the LM head in vocabulary slices', () => {
  // Small chunks so that slices of a small vocabulary align with them (production: sliceAlign's widths).
  const saved = { ce: llm.vocabChunk.cpu, sq: reduce.cpu.chunk };
  beforeEach(() => {
    llm.vocabChunk.cpu = 128;
    reduce.cpu.chunk = 1024;
  });
  afterEach(() => {
    llm.vocabChunk.cpu = saved.ce;
    reduce.cpu.chunk = saved.sq;
  });

  it('aligns slices with both chunks and slices only heads over a binding or a quarter of the cap', async () => {
    const gpu = await getGpu();
    expect(sliceAlign(gpu, 32)).toBe(128);
    expect(headSliceRows(gpu, 500, 32)).toBeUndefined();
    expect(headSliceRows(gpu, 500, 32, 100)).toBe(100);
    const cap = gpu.pool.memoryCap;
    gpu.pool.memoryCap = 4 * 4 * 300 * 32; // a quarter of it holds 300 rows: two aligned slices of 128
    try {
      expect(headSliceRows(gpu, 500, 32)).toBe(256);
    } finally {
      gpu.pool.memoryCap = cap;
    }
    const binding = gpu.limits.maxStorageBufferBindingSize;
    expect(headSliceRows(gpu, Math.ceil(binding / 128) + 1, 32)).toBeLessThanOrEqual(binding / 128);
  });

  for (const tied of [true, false]) {
    it(`equals the whole head in loss and GradNorm (${tied ? 'tied' : 'untied'})`, async () => {
      const gpu = await getGpu();
      const { desc, store, batches } = await setup(tied);
      const live = gpu.pool.liveBytes;
      const want = await streamLlamaLoss(gpu, desc, store, batches, { grads: true, headRows: 7 });
      const wantEval = await streamLlamaLoss(gpu, desc, store, batches, { headRows: 7 });
      for (const [headSliceRows, hostStates] of [
        [128, false],
        [256, true],
        [512, false],
      ] as const) {
        const got = await streamLlamaLoss(gpu, desc, store, batches, {
          grads: true,
          headRows: 7,
          headSliceRows,
          hostStates,
        });
        got.batches.forEach((b, i) => {
          expect(b.tokens).toBe(want.batches[i].tokens);
          expect(b.sum).toBe(want.batches[i].sum);
          expect(b.gradNorm).toBe(want.batches[i].gradNorm);
        });
        expect(got.largestUploadBytes).toBeLessThan(4 * 500 * 32);
        const evalOnly = await streamLlamaLoss(gpu, desc, store, batches, { headRows: 7, headSliceRows });
        expect(evalOnly.batches.map((b) => b.sum)).toEqual(wantEval.batches.map((b) => b.sum));
        expect(evalOnly.batches.map((b) => b.sum)).toEqual(want.batches.map((b) => b.sum));
        expect(gpu.pool.liveBytes).toBe(live);
      }
    });
  }

  it('holds a cap below the head weight, slicing by itself', async () => {
    const gpu = await getGpu();
    const { desc, store, batches } = await setup(true);
    const want = await streamLlamaLoss(gpu, desc, store, batches, { grads: true, hostStates: true });
    const head = 4 * 500 * 32;
    const live = gpu.pool.liveBytes;
    gpu.pool.trim();
    // A quarter of the cap is below the head: sliced by itself (in aligned slices of 128 rows).
    gpu.pool.memoryCap = live + 3 * head;
    try {
      const got = await streamLlamaLoss(gpu, desc, store, batches, { grads: true, hostStates: true });
      got.batches.forEach((b, i) => {
        expect(b.sum).toBe(want.batches[i].sum);
        expect(b.gradNorm).toBe(want.batches[i].gradNorm);
      });
      expect(got.largestUploadBytes).toBeLessThan(head);
      expect(want.largestUploadBytes).toBe(head + 4 * 32);
    } finally {
      gpu.pool.memoryCap = undefined;
    }
  });
});
