import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import type { ModelDescription } from '../../src/arch/types.js';
import type { Gpu } from '../../src/gpu/device.js';
import { DeviceMemoryError } from '../../src/gpu/pool.js';
import { validateModelConfig } from '../../src/io/config.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import type { TextWindows } from '../../src/io/text-data.js';
import { Llama } from '../../src/nn/llama.js';
import { layerKeys, streamLlamaLayers } from '../../src/nn/llama-stream.js';
import { ParamStore } from '../../src/nn/params.js';
import { openFileSource } from '../../src/node/files.js';
import { calibrateText } from '../../src/sglp/calibrate-text.js';
import { calibrateTextStreamed } from '../../src/sglp/calibrate-text-stream.js';
import { useGpu } from '../helpers/gpu.js';
import { f32Checkpoint, llamaWeights } from '../helpers/llama-checkpoint.js';
import { values } from '../helpers/reference.js';

const getGpu = useGpu();

const CONFIG = {
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
  hidden_size: 64,
  intermediate_size: 96,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 6,
  vocab_size: 41,
  rms_norm_eps: 1e-5,
  max_position_embeddings: 64,
};
const QWEN = {
  ...CONFIG,
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_size: 24,
  intermediate_size: 40,
  num_attention_heads: 6,
  num_key_value_heads: 2,
  num_hidden_layers: 3,
  tie_word_embeddings: true,
};
const T = 8;

function setup(config: Record<string, unknown>) {
  const desc = describeModel(validateModelConfig(config));
  if (desc.architecture !== 'llama') throw new Error('not a llama');
  return {
    desc,
    net: desc.net,
    w: llamaWeights(
      desc,
      (i) => 500 + 13 * i,
      (key) => key.includes('embed'),
    ),
  };
}

function windowsOf(vocab: number, count: number): TextWindows {
  const ids = Int32Array.from(values(count * T, 77), (x) => Math.floor(((x + 1) / 2) * vocab) % vocab);
  return { name: 'tiny', split: 'train', seqLen: T, windows: count, splitTokens: count * T, ids };
}

async function referenceStates(gpu: Gpu, desc: ModelDescription, w: Record<string, Float32Array>) {
  const params = ParamStore.fromArrays(gpu, desc, w);
  const model = new Llama(gpu, desc, params);
  return { model, params };
}

describe('layer streaming (LLaMA family)', () => {
  for (const [name, config] of [
    ['Llama, GQA 4/2, untied, 6 layers', CONFIG],
    ['Qwen2 (q/k/v biases), GQA 6/2, tied, 3 layers', QWEN],
  ] as const) {
    it(`${name}: hidden states bit-equal to Llama.forward, on the device and via the CPU`, async () => {
      const gpu = await getGpu();
      const { desc, net, w } = setup(config);
      const st = await f32Checkpoint(desc, w, 'tiny.safetensors');
      const text = windowsOf(desc.numClasses, 3);
      const batches = [
        { ids: text.ids.subarray(0, 2 * T), batch: 2, seq: T },
        { ids: text.ids.subarray(2 * T), batch: 1, seq: T },
      ];
      const { model, params } = await referenceStates(gpu, desc, w);
      const ref: Float32Array[][] = [];
      try {
        for (const b of batches) {
          const states: Float32Array[] = [];
          const tokens = model.tokens(b.ids, b.batch, b.seq);
          const { hidden } = await model.forwardHidden(tokens, {
            capture: async (unit, x) => {
              states[unit] = await gpu.readF32(x);
            },
          });
          hidden.dispose();
          tokens.dispose();
          ref.push(states);
        }
      } finally {
        model.dispose();
        params.dispose();
      }
      for (const hostStates of [false, true]) {
        const live = gpu.pool.liveBytes;
        const seen: string[] = [];
        const progress: number[] = [];
        await streamLlamaLayers(
          gpu,
          desc,
          st,
          batches,
          async (unit, i, x) => {
            seen.push(`${unit}:${i}`);
            expect(x.shape).toEqual([batches[i].batch * T, net.hidden]);
            const got = await gpu.readF32(x);
            expect(got).toEqual(ref[i][unit]);
          },
          { hostStates, onProgress: (done) => progress.push(done) },
        );
        // Layer-major order, every layer on every batch, and nothing left on the device.
        expect(seen).toEqual(net.layers.flatMap((l) => [`${l.unit}:0`, `${l.unit}:1`]));
        expect(progress).toEqual(net.layers.map((_, i) => i + 1));
        expect(gpu.pool.liveBytes).toBe(live);
      }
    });
  }

  it('calibrateTextStreamed gives calibrateText’s CKA bit for bit, under a cap smaller than the model', async () => {
    const gpu = await getGpu();
    const { desc, net, w } = setup(CONFIG);
    const st = await f32Checkpoint(desc, w, 'tiny.safetensors');
    const text = windowsOf(desc.numClasses, 5);
    const opts = { windows: 5, batchWindows: 2 } as const; // batches of 2, 2 and 1 windows
    const params = ParamStore.fromArrays(gpu, desc, w);
    const model = new Llama(gpu, desc, params);
    let ref: Awaited<ReturnType<typeof calibrateText>>;
    try {
      ref = await calibrateText(gpu, model, text, opts);
    } finally {
      model.dispose();
      params.dispose();
    }
    const modelBytes = desc.params.reduce((a, p) => a + 4 * p.shape.reduce((x, y) => x * y, 1), 0);
    const layerBytes = 4 * layerKeys(net.layers[0]).reduce((a, k) => a + w[k].length, 0);
    const cap = Math.floor(modelBytes / 2);
    const pool = gpu.pool;
    pool.trim();
    const live0 = pool.liveBytes;
    pool.memoryCap = cap;
    try {
      // Loading the whole model does not fit: a clear error naming the request and the cap.
      const err = await ParamStore.load(gpu, desc, st).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DeviceMemoryError);
      expect((err as Error).message).toMatch(new RegExp(`exceed the device-memory cap of ${cap} bytes`));
      expect(pool.liveBytes).toBe(live0);

      for (const [hostStates, perBatch] of [
        [false, false],
        [true, false],
        [false, true],
      ]) {
        const got = await calibrateTextStreamed(gpu, desc, st, text, { ...opts, hostStates, perBatch });
        expect(got.cka).toEqual(ref.cka);
        expect(got.forwardPasses).toBe(ref.forwardPasses);
        expect(got.memory.peakBytes).toBeLessThanOrEqual(cap);
        expect(got.memory.largestUploadBytes).toBe(layerBytes);
        expect(got.memory.streamedBytes).toBe(
          (perBatch ? 3 : 1) * (modelBytes - 4 * (w[net.norm].length + w[net.head].length)),
        );
        console.log(
          `layer streaming (hostStates ${hostStates}, perBatch ${perBatch}): model ${modelBytes} bytes, cap ${cap}, ` +
            `peak device memory ${got.memory.peakBytes} bytes, largest upload ${layerBytes} bytes`,
        );
        expect(pool.liveBytes).toBe(live0);
      }
    } finally {
      pool.memoryCap = undefined;
    }
  });

  it('the bundled trained fortunes-llama12, read from disk: same CKA under a cap of half its weights', async () => {
    const gpu = await getGpu();
    const dir = new URL('../../models/fortunes-llama12/', import.meta.url);
    const desc = describeModel(
      validateModelConfig(JSON.parse(await readFile(new URL('config.json', dir), 'utf8'))),
    );
    const st = await openSafetensors(await openFileSource(new URL('model.safetensors', dir).pathname));
    try {
      // Byte-level vocabulary: the ids are the bytes of some English text.
      const seq = 16;
      const text = 'Streaming one decoder layer at a time keeps device memory flat. '.repeat(6);
      const ids = Int32Array.from(new TextEncoder().encode(text).subarray(0, 6 * seq));
      const train: TextWindows = {
        name: 'text',
        split: 'train',
        seqLen: seq,
        windows: 6,
        splitTokens: ids.length,
        ids,
      };
      const opts = { windows: 6, batchWindows: 2 } as const;
      const params = await ParamStore.load(gpu, desc, st);
      const model = new Llama(gpu, desc, params);
      let ref: Awaited<ReturnType<typeof calibrateText>>;
      try {
        ref = await calibrateText(gpu, model, train, opts);
      } finally {
        model.dispose();
        params.dispose();
      }
      const modelBytes = desc.params.reduce((a, p) => a + 4 * p.shape.reduce((x, y) => x * y, 1), 0);
      const cap = Math.floor(modelBytes / 2);
      gpu.pool.trim();
      gpu.pool.memoryCap = cap;
      try {
        await expect(ParamStore.load(gpu, desc, st)).rejects.toThrow(DeviceMemoryError);
        const got = await calibrateTextStreamed(gpu, desc, st, train, opts);
        expect(got.cka).toEqual(ref.cka);
        expect(got.memory.peakBytes).toBeLessThanOrEqual(cap);
        console.log(
          `fortunes-llama12 streamed: weights ${modelBytes} bytes, cap ${cap}, peak device memory ` +
            `${got.memory.peakBytes} bytes, largest upload ${got.memory.largestUploadBytes} bytes`,
        );
      } finally {
        gpu.pool.memoryCap = undefined;
      }
    } finally {
      await st.close();
    }
  });

  it('a missing or non-finite tensor is an error naming it, and nothing is left on the device', async () => {
    const gpu = await getGpu();
    const { desc, net, w } = setup(QWEN);
    const key = layerKeys(net.layers[2])[3];
    const st = await f32Checkpoint(desc, w, 'tiny.safetensors', key);
    const live = gpu.pool.liveBytes;
    const batches = [{ ids: windowsOf(desc.numClasses, 1).ids, batch: 1, seq: T }];
    await expect(streamLlamaLayers(gpu, desc, st, batches, () => {})).rejects.toThrow(key);
    expect(gpu.pool.liveBytes).toBe(live);
    // A non-finite weight is named when its layer is read, and what was uploaded is freed.
    const bad = { ...w, [key]: w[key].map((v, i) => (i === 5 ? Number.NaN : v)) };
    await expect(
      streamLlamaLayers(gpu, desc, await f32Checkpoint(desc, bad, 'tiny.safetensors'), batches, () => {}),
    ).rejects.toThrow(new RegExp(`"${key}" holds a non-finite value \\(NaN\\) at element 5`));
    expect(gpu.pool.liveBytes).toBe(live);
  });
});
