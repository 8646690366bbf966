// The library's layer streaming (`loadModel(gpu, source, { stream: true })`, what `sglp prune --stream` and
// `sglp cka --stream` run): on a tiny LLaMA, cka, prune, evaluate and exportModel of the streamed model
// equal the loaded model's, files byte for byte; fine-tuning and image models are refused, naming the
// option; and the library's option errors name the option fields (the command line's name the flags).

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asFlagError } from '../../src/cli/flag-names.js';
import {
  cka,
  evaluate,
  exportModel,
  type LanguageModel,
  loadTextData,
  OptionError,
  prune,
  type StreamedLanguageModel,
  type TextData,
} from '../../src/index.js';
import { loadModelDir } from '../../src/node/api.js';
import { useGpu } from '../helpers/gpu.js';
import { TINY_LLAMA_TEXT, writeTinyLlama } from '../helpers/tiny-llama.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

const getGpu = useGpu();
const OPTIONS = {
  target: { remove: 2 },
  segments: 2,
  samples: 6,
  batch: 2,
  score: 'gradnorm' as const,
  gradnormBatches: 2,
  gradnormBatchSize: 2,
  evalLimit: 3,
};

let root = '';
let loaded: LanguageModel;
let streamed: StreamedLanguageModel;
let data: TextData;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sglp-api-stream-'));
  await writeTinyLlama(root, { layers: 6, tied: false, dtype: 'F32', seed: 70 });
  const gpu = await getGpu();
  loaded = (await loadModelDir(gpu, root)) as LanguageModel;
  streamed = await loadModelDir(gpu, root, { stream: true });
  data = await loadTextData(loaded, new TextEncoder().encode(TINY_LLAMA_TEXT), { name: 'fox', seqLen: 10 });
});
afterAll(async () => {
  await loaded?.dispose();
  await streamed?.dispose();
  await rm(root, { recursive: true, force: true });
});

describe('a streamed language model', () => {
  it('is opened, not loaded: nothing of it is on the device', () => {
    expect(streamed.kind).toBe('causal-lm');
    expect(streamed.streamed).toBe(true);
    expect(loaded.streamed).toBe(false);
    expect('params' in streamed).toBe(false);
  });

  it('has the loaded model’s CKA, bit for bit, streamed once or once per batch', async () => {
    const want = await cka(loaded, data.train, { samples: 6, batch: 2 });
    expect((await cka(streamed, data.train, { samples: 6, batch: 2 })).matrix).toEqual(want.matrix);
    const once = await loadModelDir(await getGpu(), root, { stream: { perBatch: false } });
    try {
      expect((await cka(once, data.train, { samples: 6, batch: 2 })).matrix).toEqual(want.matrix);
    } finally {
      await once.dispose();
    }
  });

  it('prunes and exports as the loaded model does: the same layers, perplexities and files', async () => {
    const l = await prune(loaded, data, OPTIONS);
    const s = await prune(streamed, data, OPTIONS);
    try {
      expect(s.report.removed).toEqual(l.report.removed);
      expect(s.report.cka).toEqual(l.report.cka);
      expect(s.report.device.memory?.streamed).toBe(true);
      expect(l.report.device.memory?.streamed).toBe(false);
      for (const k of ['before', 'after'] as const) {
        const a = s.report.metrics[k] as { perplexity: number };
        const b = l.report.metrics[k] as { perplexity: number };
        expect(Math.abs(a.perplexity - b.perplexity)).toBeLessThanOrEqual(1e-12 * b.perplexity);
      }
      expect(s.view).toBeUndefined();
      const fs = await exportModel(streamed, s);
      const fl = await exportModel(loaded, l);
      expect([...fs.files.keys()]).toEqual([...fl.files.keys()]);
      for (const [name, bytes] of fl.files) expect(fs.files.get(name), name).toEqual(bytes);
      const before = await evaluate(streamed, data.test, { limit: 3 });
      expect(
        Math.abs(before.perplexity - (l.report.metrics.before as { perplexity: number }).perplexity),
      ).toBeLessThanOrEqual(1e-12 * before.perplexity);
    } finally {
      l.view?.dispose();
    }
  });

  it('refuses fine-tuning and image models, naming the option', async () => {
    const err = await prune(streamed, data, { ...OPTIONS, finetune: { epochs: 1 } }).catch((e) => e);
    expect(err).toBeInstanceOf(OptionError);
    expect(err.field).toBe('finetune');
    expect(err.message).toBe('finetune needs the model loaded on the device; it does not run with stream');
    const cnn = join(root, 'cnn');
    await mkdir(cnn, { recursive: true });
    await writeTinyModel(cnn);
    await expect(loadModelDir(await getGpu(), cnn, { stream: true })).rejects.toThrow(
      /^stream: .* is an image classifier; layer streaming is for language models/,
    );
  });
});

describe('option errors', () => {
  it('name the library’s option fields; the command line rewords them with its flags', async () => {
    const err = await prune(loaded, data, { ...OPTIONS, samples: 99 }).catch((e) => e);
    expect(err).toBeInstanceOf(OptionError);
    expect(err.field).toBe('samples');
    expect(err.message).toMatch(/^samples 99: fox \(train\) has only \d+ windows of 10 tokens/);
    expect((asFlagError(err) as Error).message).toMatch(/^--samples 99: fox \(train\) has only/);

    const g = await prune(loaded, data, { ...OPTIONS, gradnormBatches: 0 }).catch((e) => e);
    expect(g.fields).toEqual(['gradnormBatches']);
    expect(g.message).toBe('gradnormBatches must be an integer >= 1, got 0');
    expect(g.messageWith((f: string) => `<${f}>`)).toBe('<gradnormBatches> must be an integer >= 1, got 0');
    expect((asFlagError(g) as Error).message).toBe('--gradnorm-batches must be an integer >= 1, got 0');

    const t = await prune(loaded, data, {
      ...OPTIONS,
      method: 'random',
      target: { keepPerSegment: [1, 2] },
    }).catch((e) => e);
    expect(t.fields).toEqual(['method', 'target.keepPerSegment']);
    expect((asFlagError(t) as Error).message).toMatch(
      /^--method random takes --remove R, not --keep-per-segment:/,
    );
    await expect(loadTextData(loaded, new Uint8Array(8), { seqLen: 1 })).rejects.toThrow(
      /^seqLen must be an integer >= 2/,
    );
  });
});
