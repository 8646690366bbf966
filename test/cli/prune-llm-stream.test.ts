// `sglp prune --stream [--memory-cap B]` on tiny random LLaMA / Qwen2 checkpoints: the same kept layers,
// CKA, GradNorm scores, perplexities and written model as the loaded prune, under a device-memory cap smaller
// than the model's weights that the loaded prune does not fit (a DeviceMemoryError naming the cap).

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import type { ModelDescription } from '../../src/arch/types.js';
import { formatBytes } from '../../src/cli/progress.js';
import { type PruneCliOptions, pruneCommand } from '../../src/cli/prune.js';
import { DeviceMemoryError } from '../../src/gpu/pool.js';
import { validateModelConfig } from '../../src/io/config.js';
import { writeSafetensorsFile } from '../../src/node/files.js';
import type { Report } from '../../src/sglp/report/schema.js';
import { captureIo, digest } from '../helpers/cli.js';
import { useGpu } from '../helpers/gpu.js';
import { values } from '../helpers/reference.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

const getGpu = useGpu();
const SEQ = 12;
const CORPUS =
  'The quick brown fox jumps over the lazy dog; the dog wakes and chases the fox round the yard. '.repeat(6);

/** Weight-heavy shapes (a layer's weights outweigh the few windows' activations); byte-level vocab. */
const LLAMA = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 96,
  intermediate_size: 256,
  num_hidden_layers: 8,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 256,
  rms_norm_eps: 1e-5,
  max_position_embeddings: 64,
  rope_theta: 10000,
  tie_word_embeddings: false,
  torch_dtype: 'float32',
};
const QWEN = {
  ...LLAMA,
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  num_attention_heads: 6,
  tie_word_embeddings: true,
};

let root: string;
let corpus: string;

async function writeModel(
  dir: string,
  cfg: Record<string, unknown>,
  seed: number,
): Promise<ModelDescription> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  const d = describeModel(validateModelConfig(cfg));
  const tensors = Object.fromEntries(
    d.params.map((p, i) => {
      const v = values(
        p.shape.reduce((a, b) => a * b, 1),
        seed + i,
        0.4,
      );
      const data = p.key.endsWith('norm.weight') ? v.map((x) => 1 + x / 2) : v;
      return [p.key, { dtype: 'F32' as const, shape: p.shape, data }];
    }),
  );
  await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors);
  return d;
}

function base(out: string, extra: Partial<PruneCliOptions> = {}): PruneCliOptions {
  return {
    data: `text:${corpus}`,
    seqLen: SEQ,
    samples: 8,
    batch: 2,
    gradnormBatches: 2,
    gradnormBatchSize: 2,
    segments: 2,
    remove: 2,
    evalLimit: 3,
    out,
    ...extra,
  };
}

const bytesOf = (d: ModelDescription) =>
  d.params.reduce((a, p) => a + 4 * p.shape.reduce((x, y) => x * y, 1), 0);

function expectClose(got: number, want: number, rel: number, what: string) {
  expect(Math.abs(got - want), `${what}: ${got} vs ${want}`).toBeLessThanOrEqual(rel * Math.abs(want));
}

/** Everything but timings, device memory and paths agrees: scores and metrics within `rel`. */
function expectSameRun(s: Report, l: Report) {
  expect(s.kept).toEqual(l.kept);
  expect(s.removed).toEqual(l.removed);
  expect(s.cka).toEqual(l.cka);
  expect(s.segmentation).toEqual(l.segmentation);
  expect(s.protocol).toEqual(l.protocol);
  expect(s.passes).toEqual(l.passes);
  for (const [i, seg] of (l.importance?.perSegment ?? []).entries()) {
    const got = s.importance?.perSegment[i];
    expect(got?.best.units).toEqual(seg.best.units);
    seg.candidates.forEach((c, j) => {
      expect(got?.candidates[j].units).toEqual(c.units);
      expectClose(got?.candidates[j].score as number, c.score, 1e-9, `candidate ${c.units}`);
    });
  }
  for (const k of ['before', 'after'] as const) {
    const a = s.metrics[k] as { perplexity: number; tokens: number };
    const b = l.metrics[k] as { perplexity: number; tokens: number };
    expect(a.tokens).toBe(b.tokens);
    expectClose(a.perplexity, b.perplexity, 1e-12, `perplexity ${k}`);
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sglp-prune-stream-'));
  corpus = join(root, 'corpus.txt');
  await writeFile(corpus, CORPUS);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('sglp prune --stream', () => {
  for (const [name, cfg, seed] of [
    ['Llama, untied', LLAMA, 40],
    ['Qwen2 (q/k/v biases), tied', QWEN, 90],
  ] as const) {
    it(`${name}: the loaded prune's result under a cap smaller than the model, which the loaded prune fails`, async () => {
      const gpu = await getGpu();
      const dir = join(root, `model-${seed}`);
      const desc = await writeModel(dir, cfg, seed);
      const loaded = await pruneCommand(dir, base(join(root, `loaded-${seed}`)), { io: captureIo().io, gpu });
      const modelBytes = bytesOf(desc);
      const cap = Math.floor(modelBytes * 0.6);
      expect(loaded.device.memory?.streamed).toBe(false);
      expect(loaded.device.memory?.peakDeviceBytes).toBeGreaterThan(modelBytes);

      const outS = join(root, `stream-${seed}`);
      const { io, out } = captureIo();
      const streamed = await pruneCommand(dir, base(outS, { stream: true, memoryCap: cap }), { io, gpu });
      expectSameRun(streamed, loaded);
      const mem = streamed.device.memory;
      expect(mem?.streamed).toBe(true);
      expect(mem?.memoryCap).toBe(cap);
      expect(mem?.peakDeviceBytes).toBeLessThanOrEqual(cap);
      // Human-readable in the summary; the report keeps the bytes.
      expect(out.join('')).toContain(
        `peak device memory ${formatBytes(mem?.peakDeviceBytes ?? 0)} (layer streaming), cap ${formatBytes(cap)}`,
      );
      // The written model: the same bytes as the loaded export (both copy the input's F32 tensors).
      const [a, b] = [await digest(outS), await digest(join(root, `loaded-${seed}`))];
      expect(a['model.safetensors']).toBe(b['model.safetensors']);
      expect(a['config.json']).toBe(b['config.json']);
      console.log(
        `prune --stream (${desc.name}): model ${modelBytes} bytes; loaded peak ${loaded.device.memory?.peakDeviceBytes}, ` +
          `streamed peak ${mem?.peakDeviceBytes} bytes under cap ${cap}`,
      );

      // The loaded prune does not fit under the same cap: the named error, and nothing written.
      const failed = await pruneCommand(dir, base(join(root, `capped-${seed}`), { memoryCap: cap }), {
        io: captureIo().io,
        gpu,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failed).toBeInstanceOf(DeviceMemoryError);
      expect((failed as Error).message).toMatch(new RegExp(`exceed the device-memory cap of ${cap} bytes`));
      expect(gpu.pool.memoryCap).toBeUndefined();
    });
  }

  it('block influence streamed scores the units as the loaded run; fine-tuning is refused', async () => {
    const gpu = await getGpu();
    const dir = join(root, 'model-bi');
    await writeModel(dir, LLAMA, 7);
    const opts = { method: 'block-influence' } as const;
    const l = await pruneCommand(dir, base(join(root, 'bi-loaded'), opts), { io: captureIo().io, gpu });
    const s = await pruneCommand(dir, base(join(root, 'bi-stream'), { ...opts, stream: true }), {
      io: captureIo().io,
      gpu,
    });
    expect(s.removed).toEqual(l.removed);
    expect(s.cka).toEqual(l.cka);
    expect(s.unitScores).toEqual(l.unitScores);
    expect(s.metrics).toEqual(l.metrics);
    await expect(
      pruneCommand(dir, base(join(root, 'ft'), { stream: true, finetuneEpochs: 1 }), {
        io: captureIo().io,
        gpu,
      }),
    ).rejects.toThrow(
      /--finetune-epochs needs the model loaded on the device; it does not run with --stream/,
    );
    await expect(
      pruneCommand(dir, base(join(root, 'f16'), { stream: true, precision: 'f16' }), {
        io: captureIo().io,
        gpu,
      }),
    ).rejects.toThrow(
      /--precision f16 holds the loaded model's weight matrices as f16; --stream runs f32 layers only/,
    );
    // Image classifiers are not streamed: the flags are refused before anything is read.
    const cnn = join(root, 'cnn');
    await mkdir(cnn, { recursive: true });
    await writeTinyModel(cnn);
    for (const extra of [{ stream: true }, { memoryCap: 1000 }]) {
      await expect(
        pruneCommand(
          cnn,
          { data: 'fashion-mnist', remove: 2, out: join(root, 'cnn-out'), ...extra },
          { gpu },
        ),
      ).rejects.toThrow(/(--stream|--memory-cap) applies to language models only/);
    }
  });
});
