// AdamW fine-tuning of a pruned LM (src/train/finetune-lm.ts) on a tiny random LLaMA with two of six layers
// removed: the training NLL goes down, the loaded tensors stay bit-identical, the first N windows only are
// used with `samples`, the same seed repeats bit for bit, and bad settings are clear errors.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { type PrunedModel, pruneModel } from '../../src/arch/prune.js';
import type { ModelDescription } from '../../src/arch/types.js';
import type { Gpu } from '../../src/gpu/device.js';
import { validateModelConfig } from '../../src/io/config.js';
import { type TextWindows, textWindows } from '../../src/io/text-data.js';
import { Llama } from '../../src/nn/llama.js';
import { ParamStore } from '../../src/nn/params.js';
import { ParamView } from '../../src/sglp/pruned-view.js';
import { finetuneLm, firstWindows, lmFinetuneSettings } from '../../src/train/finetune-lm.js';
import type { LmLoopProgress } from '../../src/train/lm-loop.js';
import { lmFinetune } from '../../src/tunables.js';
import { useGpu } from '../helpers/gpu.js';
import { values } from '../helpers/reference.js';
import { TINY_LLAMA_TEXT, tinyLlamaConfig } from '../helpers/tiny-llama.js';

const getGpu = useGpu();
const SEQ = 16;

let gpu: Gpu;
let desc: ModelDescription;
let params: ParamStore;
let pruned: PrunedModel;
let view: ParamView;
let train: TextWindows;
let snapshot: Record<string, Float32Array>;

/** Mean NLL of a store's model over every training window. */
async function trainNll(store: ParamStore | ParamView): Promise<number> {
  const net = new Llama(gpu, pruned.description, store as ParamStore);
  try {
    const r = await net.nextTokenLoss(train.ids, train.windows, SEQ);
    return r.sum / r.tokens;
  } finally {
    net.dispose();
  }
}

beforeAll(async () => {
  gpu = await getGpu();
  desc = describeModel(validateModelConfig(tinyLlamaConfig({ layers: 6, tied: true, dtype: 'F32' })));
  const arrays: Record<string, Float32Array> = {};
  desc.params.forEach((p, i) => {
    const v = values(
      p.shape.reduce((a, b) => a * b, 1),
      40 + i,
      0.4,
    );
    arrays[p.key] = p.key.endsWith('norm.weight') ? v.map((x) => 1 + x / 2) : v;
  });
  params = ParamStore.fromArrays(gpu, desc, arrays);
  pruned = pruneModel(desc, [1, 4]);
  view = ParamView.ofPruned(params, pruned);
  train = textWindows(new TextEncoder().encode(TINY_LLAMA_TEXT.repeat(2)), 'train', SEQ, { name: 'tiny' });
  snapshot = await params.toArrays();
});

afterAll(() => {
  params?.dispose();
});

describe('finetuneLm', () => {
  it('lowers the training NLL of a copy and leaves the loaded model bit-identical', async () => {
    const before = await trainNll(view);
    const steps: LmLoopProgress[] = [];
    const result = await finetuneLm(gpu, pruned.description, view, train, {
      epochs: 2,
      onProgress: (p) => {
        if (p.type === 'step') steps.push(p);
      },
    });
    try {
      const after = await trainNll(result.params);
      expect(after).toBeLessThan(before - 0.1);
      expect(result.history.map((h) => h.epoch)).toEqual([1, 2]);
      const perEpoch = Math.ceil(train.windows / lmFinetune.batch);
      expect(steps).toHaveLength(2 * perEpoch);
      expect(result.settings).toEqual({
        epochs: 2,
        optimizer: 'adamw',
        lr: lmFinetune.lr,
        schedule: 'cosine',
        momentum: null,
        weightDecay: lmFinetune.weightDecay,
        batchSize: lmFinetune.batch,
        augment: false,
        seed: 0,
        samples: null,
        warmup: Math.min(lmFinetune.warmup, Math.floor(2 * perEpoch * lmFinetune.warmupFraction)),
      });
      expect(await params.toArrays()).toEqual(snapshot);
    } finally {
      result.params.dispose();
    }
  });

  it('trains on the first N windows only with samples, and repeats itself for the same seed', async () => {
    const steps: number[] = [];
    const run = () =>
      finetuneLm(gpu, pruned.description, view, train, {
        epochs: 1,
        samples: 5,
        batchSize: 2,
        onProgress: (p) => {
          if (p.type === 'step') steps.push(p.step);
        },
      });
    const a = await run();
    const b = await run();
    try {
      expect(steps).toEqual([1, 2, 3, 1, 2, 3]);
      expect(a.settings.samples).toBe(5);
      expect(await a.params.toArrays()).toEqual(await b.params.toArrays());
      // Training on 5 windows is not training on all of them.
      const all = await finetuneLm(gpu, pruned.description, view, train, { epochs: 1, batchSize: 2 });
      try {
        const x = await all.params.toArrays();
        const y = await a.params.toArrays();
        expect(Object.keys(x).some((k) => x[k].some((v, i) => v !== y[k][i]))).toBe(true);
      } finally {
        all.params.dispose();
      }
    } finally {
      a.params.dispose();
      b.params.dispose();
    }
  });

  it('firstWindows keeps the first N windows without copying', () => {
    const w = firstWindows(train, 3);
    expect(w.windows).toBe(3);
    expect(w.ids).toEqual(train.ids.subarray(0, 3 * SEQ));
    expect(w.ids.buffer).toBe(train.ids.buffer);
    expect(firstWindows(train, null)).toBe(train);
    expect(firstWindows(train, train.windows + 10)).toBe(train);
  });

  it('rejects bad settings with the culprit named', async () => {
    expect(() => lmFinetuneSettings({ epochs: 0 }, 10)).toThrow(/^finetune.epochs must be an integer >= 1/);
    expect(() => lmFinetuneSettings({ epochs: 1, samples: 0 }, 10)).toThrow(
      /^finetune.samples must be an integer >= 1, got 0/,
    );
    expect(() => lmFinetuneSettings({ epochs: 1, lr: -1 }, 10)).toThrow(/lr must be > 0/);
    expect(() => lmFinetuneSettings({ epochs: 1, batchSize: 1.5 }, 10)).toThrow(/batch size/);
    expect(() => lmFinetuneSettings({ epochs: 1, warmup: 5, batchSize: 2 }, 10)).toThrow(
      /warmup must be an integer in \[0, 5\) steps, got 5/,
    );
    // A short run gets at most a tenth of its steps as warmup.
    expect(lmFinetuneSettings({ epochs: 1, batchSize: 1 }, 35).warmup).toBe(3);
    expect(lmFinetuneSettings({ epochs: 3, batchSize: 1 }, 1000).warmup).toBe(lmFinetune.warmup);
    await expect(
      finetuneLm(
        gpu,
        pruned.description,
        view,
        { ...train, windows: 0, ids: new Int32Array(0) },
        { epochs: 1 },
      ),
    ).rejects.toThrow(/no full window of 16 tokens/);
  });
});
