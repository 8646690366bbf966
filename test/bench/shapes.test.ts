// The real-shape generator (bench/shapes.ts): the published parameter counts, and every shape family at a
// tiny size written to disk, read back through the sharded loader and the tokenizer, and run through the
// loaded and the streamed paths, which must agree.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateModel, SHAPE_NAMES, type ShapeName, shapeConfig, shapeSummary } from '../../bench/shapes.js';
import { describeModel } from '../../src/arch/describe.js';
import { validateModelConfig } from '../../src/io/config.js';
import { type LlmConfig, llmSchema } from '../../src/io/config-llm.js';
import { openCheckpoint } from '../../src/io/safetensors-index.js';
import { readTokenizer } from '../../src/io/tokenizer.js';
import { Llama } from '../../src/nn/llama.js';
import { streamLlamaLayers } from '../../src/nn/llama-stream.js';
import { streamLlamaLoss } from '../../src/nn/llama-stream-grad.js';
import { ParamStore } from '../../src/nn/params.js';
import { directorySource } from '../../src/node/files.js';
import { gradNorm } from '../../src/ops/reduce/grad-norm.js';
import { useGpu } from '../helpers/gpu.js';
import { TINY_LLAMA_TEXT } from '../helpers/tiny-llama.js';

const getGpu = useGpu();
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'sglp-shapes-'));
  dirs.push(d);
  return d;
}

/** The published parameter counts of the models whose shapes these are. */
const PUBLISHED: Record<ShapeName, number> = {
  'smollm2-135m': 134_515_008,
  'qwen2.5-0.5b': 494_032_768,
  'llama-3.2-1b': 1_235_814_400,
  'llama-3.1-8b': 8_030_261_248,
  'mistral-7b': 7_248_023_552,
};

/** What a tiny variant must keep of its shape: everything but the sizes. */
function structure(c: LlmConfig) {
  return {
    architecture: c.architecture,
    tied: c.tie_word_embeddings,
    bias: c.bias,
    gqa: c.num_attention_heads / c.num_key_value_heads,
    rope: c.rope_scaling,
    theta: c.rope_theta,
    eps: c.rms_norm_eps,
    dtype: c.torch_dtype,
  };
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('real-shape checkpoints (bench/shapes.ts)', () => {
  it('full shapes have the published parameter counts and BF16 sizes', () => {
    for (const name of SHAPE_NAMES) {
      const s = shapeSummary(name);
      expect(s.params, name).toBe(PUBLISHED[name]);
      expect(s.bytes, name).toBe(2 * PUBLISHED[name]);
    }
  });

  for (const name of SHAPE_NAMES) {
    it(`${name}, tiny: sharded BF16 + tokenizer.json load, loaded and streamed paths agree`, async () => {
      const dir = await tempDir();
      // Small shards so that every family goes through model.safetensors.index.json.
      const gen = await generateModel(dir, name, { tiny: true, maxShardBytes: 20_000, seed: 3 });
      expect(gen.files.length).toBeGreaterThan(1);
      const files = await readdir(dir);
      expect(files).toContain('model.safetensors.index.json');
      const index = JSON.parse(await readFile(join(dir, 'model.safetensors.index.json'), 'utf8'));
      expect(index.metadata.total_size).toBe(gen.bytes);

      const config = validateModelConfig(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')));
      if (config.kind !== 'llm') throw new Error('not an LLM config');
      expect(structure(config)).toEqual(structure(llmSchema.parse(shapeConfig(name))));
      const desc = describeModel(config);
      const src = directorySource(dir);
      const store = await openCheckpoint(src);
      try {
        for (const p of desc.params) expect(store.info(p.key).dtype).toBe('BF16');

        const tok = await readTokenizer(src);
        expect(tok.kind).toBe('tokenizer.json');
        expect(tok.vocabSize).toBe(config.vocab_size);
        const ids = tok.encode(TINY_LLAMA_TEXT);
        expect(tok.decode(ids)).toBe(TINY_LLAMA_TEXT);
        expect(Math.max(...ids)).toBeLessThan(config.vocab_size);
        // Merges apply: fewer tokens than bytes.
        expect(ids.length).toBeLessThan(TINY_LLAMA_TEXT.length);

        const gpu = await getGpu();
        const T = 16;
        const batches = [
          { ids: ids.slice(0, 2 * T), batch: 2, seq: T },
          { ids: ids.slice(2 * T, 3 * T), batch: 1, seq: T },
        ];
        const params = await ParamStore.load(gpu, desc, store);
        const model = new Llama(gpu, desc, params);
        const want: { sum: number; norm: number; last: Float32Array }[] = [];
        try {
          for (const b of batches) {
            const r = await model.nextTokenLoss(b.ids, b.batch, b.seq, { grads: true });
            const grads = r.grads as NonNullable<typeof r.grads>;
            const norm = await gradNorm(gpu, [...grads.values()]);
            for (const g of grads.values()) g.dispose();
            let last: Float32Array | undefined;
            const tokens = model.tokens(b.ids, b.batch, b.seq);
            const { hidden } = await model.forwardHidden(tokens, {
              capture: async (unit, x) => {
                if (unit === desc.units.length - 1) last = await gpu.readF32(x);
              },
            });
            hidden.dispose();
            tokens.dispose();
            if (!last) throw new Error('no capture of the last layer');
            want.push({ sum: r.sum, norm, last });
          }
        } finally {
          model.dispose();
          params.dispose();
        }
        // Random weights at the default init: the loss is near ln(vocab), not blown up.
        const nll = want[0].sum / (2 * (T - 1));
        expect(Math.abs(nll - Math.log(config.vocab_size))).toBeLessThan(1);

        const got = await streamLlamaLoss(gpu, desc, store, batches, { grads: true });
        got.batches.forEach((b, i) => {
          expect(b.sum).toBe(want[i].sum);
          expect(rel(b.gradNorm as number, want[i].norm)).toBeLessThan(1e-12);
        });
        await streamLlamaLayers(gpu, desc, store, batches, async (unit, i, x) => {
          if (unit === desc.units.length - 1) expect(await gpu.readF32(x)).toEqual(want[i].last);
        });
      } finally {
        await store.close();
      }
    });
  }

  it('values depend on (seed, tensor name) only: same bytes at any shard size or layer count', async () => {
    const a = await tempDir();
    const b = await tempDir();
    await generateModel(a, 'llama-3.2-1b', { tiny: true, seed: 5 });
    await generateModel(b, 'llama-3.2-1b', { tiny: true, seed: 5, layers: 2, maxShardBytes: 10_000 });
    expect((await readdir(a)).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
    ]);
    const sa = await openCheckpoint(directorySource(a));
    const sb = await openCheckpoint(directorySource(b));
    try {
      expect(sb.keys().length).toBeLessThan(sa.keys().length);
      for (const k of sb.keys()) expect(await sb.bytes(k)).toEqual(await sa.bytes(k));
    } finally {
      await sa.close();
      await sb.close();
    }
    const c = await tempDir();
    await generateModel(c, 'llama-3.2-1b', { tiny: true, seed: 6 });
    const sc = await openCheckpoint(directorySource(c));
    try {
      const k = 'model.layers.0.mlp.up_proj.weight';
      const sa2 = await openCheckpoint(directorySource(a));
      expect(await sc.bytes(k)).not.toEqual(await sa2.bytes(k));
      await sa2.close();
    } finally {
      await sc.close();
    }
  });
});
