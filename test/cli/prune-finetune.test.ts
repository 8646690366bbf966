// `sglp prune --finetune-epochs E` on language models (AdamW, SGLP.md §5) and `--finetune-samples N` on
// language models and image classifiers: the fine-tuned export evaluates (`sglp eval`) to the report's
// afterFinetune, fine-tuning lowers the training-text perplexity, a BF16 input stays BF16 (rounded before
// the evaluation, so the number is the file's), the input is untouched, and only the first N samples train.

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evalCommand } from '../../src/cli/eval.js';
import { type PruneCliOptions, pruneCommand } from '../../src/cli/prune.js';
import { decodeBF16 } from '../../src/num/half.js';
import type { Report } from '../../src/sglp/report/schema.js';
import { lmFinetune } from '../../src/tunables.js';
import { captureIo, digest } from '../helpers/cli.js';
import { useGpu } from '../helpers/gpu.js';
import { readRawTensors, TINY_LLAMA_TEXT, tinyTextPrune, writeTinyLlama } from '../helpers/tiny-llama.js';
import { writeTinyMnist, writeTinyModel } from '../helpers/tiny-model.js';

const getGpu = useGpu();
const SEQ = 16;
let root: string;
let corpus: string;
let f32Dir: string;
let bf16Dir: string;
/** Train windows of the corpus (bytes): 95% of it, in windows of SEQ. */
let trainWindows: number;

const base = (out: string, extra: Partial<PruneCliOptions> = {}) => tinyTextPrune(corpus, SEQ, out, extra);

async function evalNll(dir: string, split: 'train' | 'test') {
  const gpu = await getGpu();
  return evalCommand(dir, { data: `text:${corpus}`, seqLen: SEQ, split }, { io: captureIo().io, gpu });
}

type Lm = { perplexity: number; nll: number; tokens: number };

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sglp-prune-ft-'));
  corpus = join(root, 'corpus.txt');
  const text = TINY_LLAMA_TEXT.repeat(8);
  await writeFile(corpus, text);
  trainWindows = Math.floor(Math.floor((text.length * 95) / 100) / SEQ);
  f32Dir = join(root, 'f32');
  bf16Dir = join(root, 'bf16');
  await writeTinyLlama(f32Dir, { layers: 6, tied: true, dtype: 'F32', seed: 30 });
  await writeTinyLlama(bf16Dir, { layers: 6, tied: false, dtype: 'BF16', seed: 31 });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('sglp prune --finetune-epochs on a language model', () => {
  let plain: Report;
  let tuned: Report;

  it('fine-tunes a copy with AdamW; the export evaluates to afterFinetune; the input is untouched', async () => {
    const gpu = await getGpu();
    const before = await digest(f32Dir);
    plain = await pruneCommand(f32Dir, base(join(root, 'plain')), { io: captureIo().io, gpu });
    const { io, out } = captureIo();
    tuned = await pruneCommand(f32Dir, base(join(root, 'tuned'), { finetuneEpochs: 1 }), { io, gpu });
    expect(tuned.kept).toEqual(plain.kept);
    expect(tuned.metrics.after).toEqual(plain.metrics.after);
    const steps = Math.ceil(trainWindows / lmFinetune.batch);
    expect(tuned.protocol.finetune).toEqual({
      epochs: 1,
      optimizer: 'adamw',
      lr: lmFinetune.lr,
      schedule: 'cosine',
      momentum: null,
      weightDecay: lmFinetune.weightDecay,
      batchSize: lmFinetune.batch,
      augment: false,
      seed: 0,
      samples: null,
      warmup: Math.min(lmFinetune.warmup, Math.floor(steps * lmFinetune.warmupFraction)),
    });
    expect(tuned.passes.backward - plain.passes.backward).toBe(steps);
    expect(tuned.timings.finetuneMs).toBeGreaterThan(0);
    expect(out.join('')).toMatch(/after fine-tuning for 1 epoch\(s\) \(AdamW\): perplexity [\d.]+/);
    expect(JSON.parse(await readFile(join(root, 'tuned', 'sglp-report.json'), 'utf8'))).toEqual(tuned);

    const ft = tuned.metrics.afterFinetune as Lm;
    const got = await evalNll(join(root, 'tuned'), 'test');
    expect(got.tokens).toBe(ft.tokens);
    expect(Math.abs(got.nll - ft.nll)).toBeLessThanOrEqual(1e-6 * ft.nll);
    expect(await digest(f32Dir)).toEqual(before);
  });

  it('lowers the training-text perplexity against the model pruned without fine-tuning', async () => {
    const a = await evalNll(join(root, 'plain'), 'train');
    const b = await evalNll(join(root, 'tuned'), 'train');
    expect(b.perplexity).toBeLessThan(0.9 * a.perplexity);
  });

  it('--finetune-samples N trains on the first N windows only, at --finetune-lr', async () => {
    const gpu = await getGpu();
    const r = await pruneCommand(
      f32Dir,
      base(join(root, 'few'), { finetuneEpochs: 1, finetuneSamples: 8, finetuneLr: 1e-3 }),
      { io: captureIo().io, gpu },
    );
    expect(r.protocol.finetune?.samples).toBe(8);
    // --finetune-lr replaces the default rate, and the report records it.
    expect(r.protocol.finetune?.lr).toBe(1e-3);
    expect(tuned.protocol.finetune?.lr).toBe(3e-3);
    expect(r.protocol.finetune?.warmup).toBe(0);
    // One step of 8 windows instead of one per 8 of all the windows.
    expect(r.passes.backward - plain.passes.backward).toBe(1);
    expect((r.metrics.afterFinetune as Lm).nll).not.toBe((tuned.metrics.afterFinetune as Lm).nll);
  });

  it('a BF16 input stays BF16 after fine-tuning and evaluates exactly as reported; --save-dtype f32 too', async () => {
    const gpu = await getGpu();
    const before = await digest(bf16Dir);
    const input = await readRawTensors(join(bf16Dir, 'model.safetensors'));
    for (const save of ['auto', 'f32'] as const) {
      const out = join(root, `bf16-tuned-${save}`);
      const r = await pruneCommand(bf16Dir, base(out, { finetuneEpochs: 1, saveDtype: save }), {
        io: captureIo().io,
        gpu,
      });
      const got = await readRawTensors(join(out, 'model.safetensors'));
      const dtype = save === 'auto' ? 'BF16' : 'F32';
      let changed = 0;
      for (const [key, t] of got) {
        expect(t.dtype, key).toBe(dtype);
        const old = key.replace(/^model\.layers\.(\d+)\./, (_, i) => `model.layers.${r.kept[Number(i)]}.`);
        const was = decodeBF16(new Uint16Array(input.get(old)?.bytes.slice().buffer ?? new ArrayBuffer(0)));
        const now =
          dtype === 'BF16'
            ? decodeBF16(new Uint16Array(t.bytes.slice().buffer))
            : new Float32Array(t.bytes.slice().buffer);
        if (now.some((v, i) => v !== was[i])) changed++;
      }
      expect(changed).toBe(got.size); // every tensor was trained
      const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
      expect(config.torch_dtype).toBe(save === 'auto' ? 'bfloat16' : 'float32');
      const ft = r.metrics.afterFinetune as Lm;
      const e = await evalNll(out, 'test');
      expect(Math.abs(e.nll - ft.nll)).toBeLessThanOrEqual(1e-6 * ft.nll);
    }
    expect(await digest(bf16Dir)).toEqual(before);
  });
});

describe('sglp prune --finetune-samples on an image classifier', () => {
  let model: string;
  let data: string;
  const cnn = (out: string, extra: Partial<PruneCliOptions> = {}): PruneCliOptions => ({
    data: `mnist:${data}`,
    remove: 3,
    samples: 40,
    batch: 20,
    gradnormBatches: 1,
    gradnormBatchSize: 8,
    out,
    ...extra,
  });

  beforeAll(async () => {
    model = join(root, 'cnn');
    data = join(root, 'mnist');
    await mkdir(model);
    await mkdir(data);
    await writeTinyModel(model);
    await writeTinyMnist(data, 64, 30);
  });

  it('records N, trains on the first N samples only (other weights), and needs --finetune-epochs', async () => {
    const gpu = await getGpu();
    const before = await digest(model);
    const all = await pruneCommand(model, cnn(join(root, 'cnn-all'), { finetuneEpochs: 1 }), {
      io: captureIo().io,
      gpu,
    });
    const few = await pruneCommand(
      model,
      cnn(join(root, 'cnn-few'), { finetuneEpochs: 1, finetuneSamples: 20 }),
      {
        io: captureIo().io,
        gpu,
      },
    );
    expect(all.protocol.finetune?.samples).toBeNull();
    expect(few.protocol.finetune?.samples).toBe(20);
    expect(few.kept).toEqual(all.kept);
    const a = await readRawTensors(join(root, 'cnn-all', 'model.safetensors'));
    const b = await readRawTensors(join(root, 'cnn-few', 'model.safetensors'));
    const differ = [...a].filter(
      ([k, t]) => !Buffer.from(t.bytes).equals(Buffer.from(b.get(k)?.bytes ?? [])),
    );
    expect(differ.length).toBeGreaterThan(0);
    // The evaluation of the written fine-tuned model is the report's.
    const e = await evalCommand(
      join(root, 'cnn-few'),
      { data: `mnist:${data}` },
      { io: captureIo().io, gpu },
    );
    expect(e.accuracy).toBe((few.metrics.afterFinetune as { accuracy: number }).accuracy);
    await expect(
      pruneCommand(model, cnn(join(root, 'cnn-bad'), { finetuneSamples: 20 }), { io: captureIo().io, gpu }),
    ).rejects.toThrow(/--finetune-samples limits fine-tuning: give --finetune-epochs E/);
    await expect(
      pruneCommand(model, cnn(join(root, 'cnn-bad'), { finetuneEpochs: 1, finetuneSamples: 0 }), {
        io: captureIo().io,
        gpu,
      }),
    ).rejects.toThrow(/--finetune-samples must be an integer >= 1, got 0/);
    expect(await digest(model)).toEqual(before);
  });
});
