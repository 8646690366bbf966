import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { pruneModel } from '../../src/arch/prune.js';
import { evaluatePerplexity } from '../../src/eval/perplexity.js';
import { evaluatePerplexityStreamed } from '../../src/eval/perplexity-stream.js';
import { validateModelConfig } from '../../src/io/config.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { encodeSafetensors } from '../../src/io/safetensors-write.js';
import { bytesSource } from '../../src/io/source.js';
import type { TextWindows } from '../../src/io/text-data.js';
import { Llama } from '../../src/nn/llama.js';
import { ParamStore } from '../../src/nn/params.js';
import { prunedStore } from '../../src/sglp/importance-llm-stream.js';
import { ParamView } from '../../src/sglp/pruned-view.js';
import { useGpu } from '../helpers/gpu.js';
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
    const w: Record<string, Float32Array> = {};
    desc.params.forEach((p, i) => {
      const v = values(
        p.shape.reduce((a, b) => a * b, 1),
        300 + 7 * i,
        p.key.includes('embed') ? 1 : 0.3,
      );
      w[p.key] = p.key.endsWith('norm.weight') ? v.map((x) => 1 + x / 2) : v;
    });
    const enc = encodeSafetensors(
      Object.fromEntries(
        desc.params.map((p) => [p.key, { dtype: 'F32' as const, shape: p.shape, data: w[p.key] }]),
      ),
    );
    const bytes = new Uint8Array(enc.byteLength);
    let o = 0;
    for await (const c of enc.chunks()) {
      bytes.set(c, o);
      o += c.byteLength;
    }
    const store = await openSafetensors(bytesSource(bytes, 'tiny.safetensors'));
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
