import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { pruneModel } from '../../src/arch/prune.js';
import { evaluatePerplexity } from '../../src/eval/perplexity.js';
import { evaluatePerplexityStreamed } from '../../src/eval/perplexity-stream.js';
import { validateModelConfig } from '../../src/io/config.js';
import type { TextWindows } from '../../src/io/text-data.js';
import { Llama } from '../../src/nn/llama.js';
import { ParamStore } from '../../src/nn/params.js';
import { prunedStore } from '../../src/sglp/importance-llm-stream.js';
import { ParamView } from '../../src/sglp/pruned-view.js';
import { useGpu } from '../helpers/gpu.js';
import { f32Checkpoint, llamaWeights } from '../helpers/llama-checkpoint.js';
import { values } from '../helpers/reference.js';

const getGpu = useGpu();
const CONFIG = {
  model_type: 'qwen2',
  architectures: ['Qwen2ForCausalLM'],
  hidden_size: 24,
  intermediate_size: 40,
  num_attention_heads: 6,
  num_key_value_heads: 2,
  num_hidden_layers: 4,
  vocab_size: 29,
  rms_norm_eps: 1e-5,
  max_position_embeddings: 64,
  tie_word_embeddings: true,
};
const T = 6;

describe('streamed perplexity', () => {
  it('equals evaluatePerplexity on the loaded model (and on a pruned one), over several passes', async () => {
    const gpu = await getGpu();
    const desc = describeModel(validateModelConfig(CONFIG));
    const w = llamaWeights(
      desc,
      (i) => 300 + 7 * i,
      (key) => key.includes('embed'),
    );
    const store = await f32Checkpoint(desc, w, 'tiny.safetensors');
    const windows = 7;
    const ids = Int32Array.from(values(windows * T, 5), (x) => Math.floor(((x + 1) / 2) * 29) % 29);
    const data: TextWindows = {
      name: 'tiny',
      split: 'test',
      seqLen: T,
      windows,
      splitTokens: windows * T,
      ids,
    };
    const params = ParamStore.fromArrays(gpu, desc, w);
    try {
      const pruned = pruneModel(desc, [1, 2]);
      for (const [d, view, st] of [
        [desc, params, store],
        [pruned.description, ParamView.ofPruned(params, pruned).asStore(), prunedStore(store, pruned)],
      ] as const) {
        const net = new Llama(gpu, d, view);
        const want = await evaluatePerplexity(net, data, { batch: 2 });
        net.dispose();
        const seen: number[] = [];
        // Groups of 4 windows in batches of 2, 2 | 2, 1: two passes over the checkpoint.
        const got = await evaluatePerplexityStreamed(gpu, d, st, data, {
          batch: 2,
          groupWindows: 5,
          onProgress: (p) => seen.push(p.windows),
        });
        expect(got.passes).toBe(2);
        expect(got.tokens).toBe(want.tokens);
        expect(got.nll).toBe(want.nll);
        expect(got.perplexity).toBe(want.perplexity);
        expect(seen).toEqual([2, 4, 6, 7]);
      }
    } finally {
      params.dispose();
    }
  });
});
