// Fine-tuning after pruning (src/train/finetune.ts over src/train/loop.ts) on the tiny random-weight
// cifar-resnet with three units removed: the training loss goes down, the loaded model's tensors stay
// bit-identical, the same seed gives bit-identical weights (another seed does not), and divergence,
// abort and bad settings are clear errors.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrunedModel, pruneModel } from '../../src/arch/prune.js';
import type { ModelDescription } from '../../src/arch/types.js';
import type { Gpu } from '../../src/gpu/device.js';
import { imageBatches } from '../../src/io/batches.js';
import type { ImageDataset } from '../../src/io/dataset.js';
import type { ParamStore } from '../../src/nn/params.js';
import { CifarResnet } from '../../src/nn/resnet.js';
import { softmaxCrossEntropy, uploadLabels } from '../../src/ops/norm/cross-entropy.js';
import { ParamView } from '../../src/sglp/pruned-view.js';
import {
  FINETUNE_DEFAULTS,
  type FinetuneOptions,
  finetune,
  finetuneSettings,
} from '../../src/train/finetune.js';
import { NonFiniteLossError } from '../../src/train/loop.js';
import { useGpu } from '../helpers/gpu.js';
import { tinyConfig, tinyDataset, tinyDescription, tinyParams } from '../helpers/tiny-model.js';

const getGpu = useGpu();
const normalize = tinyConfig().normalize;

let gpu: Gpu;
let desc: ModelDescription;
let params: ParamStore;
let pruned: PrunedModel;
let view: ParamView;
let train: ImageDataset;
let snapshot: Record<string, Float32Array>;

const opts = (extra: Partial<FinetuneOptions> = {}): FinetuneOptions => ({
  epochs: 2,
  batchSize: 16,
  lr: 0.05,
  seed: 3,
  ...extra,
});

/** Mean cross-entropy over the whole train set in one un-augmented batch, batch statistics, no BN update. */
async function trainLoss(store: ParamStore | ParamView): Promise<number> {
  const net = new CifarResnet(gpu, pruned.description, store as ParamStore);
  const [b] = [...imageBatches(train, { batchSize: train.n, normalize })];
  return gpu.scope(async () => {
    const x = gpu.tensor(b.x, [b.size, 1, 8, 8]);
    const { logits, saved } = await net.forward(x, { mode: 'train', updateRunningStats: false });
    saved?.dispose();
    const ce = softmaxCrossEntropy(gpu, logits, uploadLabels(gpu, b.y, 10));
    return (await gpu.readF32(ce.loss))[0];
  });
}

beforeAll(async () => {
  gpu = await getGpu();
  desc = tinyDescription();
  params = tinyParams(gpu, desc);
  pruned = pruneModel(desc, [2, 5, 8]);
  view = ParamView.ofPruned(params, pruned);
  train = tinyDataset('tiny train', 96, 1);
  snapshot = await params.toArrays();
});

afterAll(() => {
  params?.dispose();
});

describe('finetune', () => {
  it('lowers the training loss, writes a fresh store and leaves the loaded model bit-identical', async () => {
    const before = await trainLoss(view);
    const epochs: number[] = [];
    const result = await finetune(gpu, pruned.description, view, train, normalize, {
      ...opts({ epochs: 3 }),
      onEpoch: (r) => {
        epochs.push(r.epoch);
      },
    });
    try {
      const after = await trainLoss(result.params);
      expect(after).toBeLessThan(0.9 * before);
      expect(epochs).toEqual([1, 2, 3]);
      expect(result.history.map((h) => h.samples)).toEqual([96, 96, 96]);
      expect(result.history.every((h) => Number.isFinite(h.trainLoss) && h.lr > 0)).toBe(true);
      expect(result.settings).toEqual({
        ...FINETUNE_DEFAULTS,
        optimizer: 'sgd',
        epochs: 3,
        batchSize: 16,
        lr: 0.05,
        seed: 3,
        samples: null,
      });
      expect(result.params.keys()).toEqual(pruned.description.params.map((p) => p.key));
      // Training happened in the copy: its weights moved away from the view's.
      const key = 'layer3.0.conv1.weight';
      const moved = await gpu.readF32(result.params.get(key));
      expect(moved).not.toEqual(await gpu.readF32(view.get(key)));
    } finally {
      result.params.dispose();
    }
    const now = await params.toArrays();
    for (const k of Object.keys(snapshot)) expect(now[k], k).toEqual(snapshot[k]);
  });

  it('is deterministic: the same seed gives bit-identical weights, another seed others', async () => {
    const runs = [];
    for (const seed of [3, 3, 4]) {
      const r = await finetune(gpu, pruned.description, view, train, normalize, opts({ seed, epochs: 1 }));
      try {
        runs.push({ arrays: await r.params.toArrays(), losses: r.history.map((h) => h.trainLoss) });
      } finally {
        r.params.dispose();
      }
    }
    for (const k of Object.keys(runs[0].arrays)) expect(runs[1].arrays[k], k).toEqual(runs[0].arrays[k]);
    expect(runs[1].losses).toEqual(runs[0].losses);
    expect(runs[2].arrays['linear.weight']).not.toEqual(runs[0].arrays['linear.weight']);
  });

  it('stops with an error naming the epoch and step when the loss is not finite', async () => {
    const err = await finetune(gpu, pruned.description, view, train, normalize, opts({ lr: 1e30 })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect((err as Error).message).toMatch(
      /^epoch \d\/2, step \d+: the loss is (NaN|-?Infinity); try a smaller/,
    );
  });

  it('honours an AbortSignal', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(
      finetune(gpu, pruned.description, view, train, normalize, { ...opts(), signal: ac.signal }),
    ).rejects.toThrow(/abort/i);
  });

  it('trains on the first N samples only with samples (--finetune-samples)', async () => {
    const steps: number[] = [];
    const result = await finetune(gpu, pruned.description, view, train, normalize, {
      ...opts({ epochs: 1 }),
      samples: 20,
      onProgress: (p) => {
        if (p.type === 'step') steps.push(p.step);
      },
    });
    try {
      expect(steps).toEqual([1, 2]); // 20 samples in batches of 16
      expect(result.history.map((h) => h.samples)).toEqual([20]);
      expect(result.settings.samples).toBe(20);
    } finally {
      result.params.dispose();
    }
    expect(() => finetuneSettings({ epochs: 1, samples: 0 })).toThrow(
      /^finetune.samples must be an integer >= 1, got 0/,
    );
  });

  it('rejects bad settings and data by name', async () => {
    expect(() => finetuneSettings({ epochs: 0 })).toThrow(/^finetune.epochs must be an integer >= 1, got 0/);
    expect(() => finetuneSettings({ epochs: 1, lr: -1 })).toThrow(/lr must be > 0/);
    expect(() => finetuneSettings({ epochs: 1, batchSize: 2.5 })).toThrow(/batch size/);
    const wide = tinyDataset('wide', 8, 1);
    const bad = { ...wide, w: 4 } as ImageDataset;
    await expect(finetune(gpu, pruned.description, view, bad, normalize, opts())).rejects.toThrow(
      /wide has 1x8x4 images/,
    );
    expect(finetuneSettings({ epochs: 1 })).toMatchObject({
      optimizer: 'sgd',
      lr: 0.01,
      momentum: 0.9,
      weightDecay: 5e-3,
      batchSize: 256,
      schedule: 'cosine',
    });
  });
});
