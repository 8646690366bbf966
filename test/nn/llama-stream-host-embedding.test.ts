// Layer streaming with the embedding looked up on the CPU (hostEmbedding): the same hidden states as the
// uploaded table, bit for bit, and the table never on the device — so a cap below the table's size holds.
import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { validateModelConfig } from '../../src/io/config.js';
import { streamLlamaLayers } from '../../src/nn/llama-stream.js';
import { useGpu } from '../helpers/gpu.js';
import { f32Checkpoint, llamaWeights } from '../helpers/llama-checkpoint.js';

const getGpu = useGpu();

/** A large vocabulary against small layers: the table outweighs any layer, as in real models. */
const CONFIG = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_size: 32,
  intermediate_size: 48,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 3,
  vocab_size: 3000,
  rms_norm_eps: 1e-6,
  max_position_embeddings: 64,
  tie_word_embeddings: true,
};
const T = 9;

describe('layer streaming with the embedding on the CPU', () => {
  it('equals the uploaded table bit for bit, never uploads it, and fits a cap below its size', async () => {
    const gpu = await getGpu();
    const desc = describeModel(validateModelConfig(CONFIG));
    if (desc.architecture !== 'llama') throw new Error('not a llama');
    const w = llamaWeights(
      desc,
      (i) => 40 + i,
      (key) => key.includes('embed'),
    );
    const store = await f32Checkpoint(desc, w, 'wide-vocab.safetensors');
    const ids = Int32Array.from({ length: 3 * T }, (_, i) => (i * 977 + 13) % CONFIG.vocab_size);
    const batches = [
      { ids: ids.subarray(0, 2 * T), batch: 2, seq: T },
      { ids: ids.subarray(2 * T), batch: 1, seq: T },
    ];
    const run = async (hostEmbedding: boolean) => {
      const seen = new Map<string, Float32Array>();
      const inputs: Float32Array[] = [];
      const r = await streamLlamaLayers(
        gpu,
        desc,
        store,
        batches,
        async (unit, i, x) => {
          seen.set(`${unit}:${i}`, await gpu.readF32(x));
        },
        {
          hostEmbedding,
          onInput: async (i, x) => {
            inputs[i] = await gpu.readF32(x);
          },
        },
      );
      return { seen, inputs, r };
    };
    const onDevice = await run(false);
    const tableBytes = 4 * CONFIG.vocab_size * CONFIG.hidden_size;
    expect(onDevice.r.largestUploadBytes).toBe(tableBytes);
    const live = gpu.pool.liveBytes;
    gpu.pool.trim();
    gpu.pool.memoryCap = live + Math.floor(tableBytes / 2);
    let onHost: Awaited<ReturnType<typeof run>>;
    try {
      onHost = await run(true);
    } finally {
      gpu.pool.memoryCap = undefined;
    }
    expect(onHost.inputs).toEqual(onDevice.inputs);
    expect([...onHost.seen.keys()]).toEqual([...onDevice.seen.keys()]);
    for (const [k, v] of onDevice.seen) expect(onHost.seen.get(k)).toEqual(v);
    expect(onHost.r.largestUploadBytes).toBeLessThan(tableBytes);
    expect(onHost.r.streamedBytes).toBe(onDevice.r.streamedBytes);
    expect(onHost.r.peakBytes).toBeLessThan(tableBytes / 2);
    expect(gpu.pool.liveBytes).toBe(live);
  });
});
