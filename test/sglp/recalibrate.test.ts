// Batch-norm recalibration (src/sglp/recalibrate.ts) on a tiny pruned cifar-resnet: every BN's running mean
// and variance equal the float64 reference (the mean over batches of each batch's mean and unbiased
// variance, PyTorch's momentum=None), weights and the loaded model stay untouched, and the pipeline's
// recalibrated metric is what the recalibrated tensors give.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneModel } from '../../src/arch/prune.js';
import type { ModelDescription } from '../../src/arch/types.js';
import { evaluateClassifier } from '../../src/eval/classify.js';
import type { Gpu } from '../../src/gpu/device.js';
import { imageBatches } from '../../src/io/batches.js';
import type { ImageDataset } from '../../src/io/dataset.js';
import { createClassifier } from '../../src/nn/model.js';
import { ParamStore } from '../../src/nn/params.js';
import { pruneSglp } from '../../src/sglp/families/image/prune.js';
import { prunedView } from '../../src/sglp/pruned-view.js';
import { hasBatchNorm, recalibrateBatchNorm } from '../../src/sglp/recalibrate.js';
import { useGpu } from '../helpers/gpu.js';
import { tinyConfig, tinyDataset, tinyDescription, tinyParams } from '../helpers/tiny-model.js';
import { resnetRef, to64 } from '../nn/resnet-reference.js';

const getGpu = useGpu();
const normalize = tinyConfig().normalize;

let gpu: Gpu;
let desc: ModelDescription;
let params: ParamStore;
let train: ImageDataset;

beforeAll(async () => {
  gpu = await getGpu();
  desc = tinyDescription();
  params = tinyParams(gpu, desc);
  train = tinyDataset('tiny train', 40, 1);
});

afterAll(() => params?.dispose());

/** Reference: per BN, the mean over batches of the batch mean and of the unbiased batch variance. */
function referenceStats(
  pruned: ModelDescription,
  p: Record<string, Float32Array>,
  images: number,
  batch: number,
) {
  const sums = new Map<string, { mean: Float64Array; variance: Float64Array }>();
  let batches = 0;
  const p64 = to64(p);
  for (const b of imageBatches(train, { batchSize: batch, normalize, limit: images })) {
    batches++;
    const ref = resnetRef(pruned, p64, b.x, b.size, true);
    for (const [name, s] of ref.batchStats) {
      // Every BN of the tiny net sees its conv's output: count = N·H·W of that output.
      const channels = s.mean.length;
      const hw = spatialOf(pruned, name);
      const count = b.size * hw;
      const acc = sums.get(name) ?? {
        mean: new Float64Array(channels),
        variance: new Float64Array(channels),
      };
      for (let c = 0; c < channels; c++) {
        acc.mean[c] += s.mean[c];
        acc.variance[c] += (s.variance[c] * count) / (count - 1);
      }
      sums.set(name, acc);
    }
  }
  for (const acc of sums.values()) {
    for (let c = 0; c < acc.mean.length; c++) {
      acc.mean[c] /= batches;
      acc.variance[c] /= batches;
    }
  }
  return sums;
}

/** H·W of the map a BN normalises (the tiny net: 8x8, 4x4, 2x2 by stage; the stem at 8x8). */
function spatialOf(pruned: ModelDescription, bn: string): number {
  if (pruned.net.family !== 'resnet') throw new Error('not a resnet');
  const [, h, w] = pruned.input;
  if (bn === pruned.net.stem.bn.name) return h * w;
  for (const block of pruned.net.stages.flat()) {
    const pairs = [...block.body, ...(block.shortcut.kind === 'projection' ? [block.shortcut] : [])];
    if (pairs.some((p) => p.bn.name === bn)) return block.output[1] * block.output[2];
  }
  throw new Error(`no BN ${bn}`);
}

describe('batch-norm recalibration', () => {
  it('re-estimates every running mean and variance as the float64 reference does; weights untouched', async () => {
    const before = await params.toArrays();
    const pruned = pruneModel(desc, [2, 5, 8]);
    const view = prunedView(gpu, params, pruned);
    expect(hasBatchNorm(view)).toBe(true);
    const prunedArrays = await view.toArrays();
    const recal = await recalibrateBatchNorm(gpu, view, train, normalize, { images: 40, batch: 16 });
    try {
      const got = await recal.toArrays();
      const want = referenceStats(pruned.description, prunedArrays, 40, 16);
      expect(want.size).toBe(recal.bufferKeys().length / 2);
      let worst = 0;
      for (const [name, s] of want) {
        const mean = got[`${name}.running_mean`];
        const variance = got[`${name}.running_var`];
        for (let c = 0; c < s.mean.length; c++) {
          worst = Math.max(worst, Math.abs(mean[c] - s.mean[c]) / (1e-3 + Math.abs(s.mean[c])));
          worst = Math.max(worst, Math.abs(variance[c] - s.variance[c]) / s.variance[c]);
        }
        // The pruned network's statistics are new: not the loaded ones.
        expect(Array.from(variance)).not.toEqual(Array.from(prunedArrays[`${name}.running_var`]));
      }
      expect(worst).toBeLessThan(2e-4);
      // Weights and biases are the loaded tensors (read through the view, not copies).
      for (const k of recal.trainableKeys()) {
        expect(recal.get(k)).toBe(params.get(recal.sourceKey(k)));
      }
      const after = await params.toArrays();
      for (const k of Object.keys(before)) expect(after[k]).toEqual(before[k]);
    } finally {
      recal.dispose();
    }
  });

  it('a single batch gives that batch statistics exactly (momentum 1 at the first batch)', async () => {
    const pruned = pruneModel(desc, []);
    const view = prunedView(gpu, params, pruned);
    const arrays = await view.toArrays();
    const recal = await recalibrateBatchNorm(gpu, view, train, normalize, { images: 12, batch: 12 });
    try {
      const got = await recal.toArrays();
      const want = referenceStats(pruned.description, arrays, 12, 12);
      for (const [name, s] of want) {
        const v = got[`${name}.running_var`];
        for (let c = 0; c < s.variance.length; c++) {
          expect(Math.abs(v[c] - s.variance[c]) / s.variance[c]).toBeLessThan(2e-4);
        }
      }
    } finally {
      recal.dispose();
    }
  });

  it('refuses more images than the data set has', async () => {
    const view = prunedView(gpu, params, pruneModel(desc, []));
    try {
      await expect(
        recalibrateBatchNorm(gpu, view, train, normalize, { images: 41, batch: 8 }),
      ).rejects.toThrow(/41 images asked, tiny train has only 40/);
    } finally {
      view.dispose();
    }
  });

  it('pruneSglp reports the recalibrated metric of the tensors it returns, and records the protocol', async () => {
    const test = tinyDataset('tiny test', 30, 2);
    const common = {
      target: { remove: 3 },
      samples: 40,
      batch: 20,
      score: 'similarity' as const,
      dataSpec: 'tiny',
      input: 'in',
      output: 'out',
    };
    const r = await pruneSglp({ gpu, desc, params, normalize, train, test }, { ...common, recalibrate: 32 });
    try {
      expect(r.report.protocol.recalibration).toEqual({
        split: 'train',
        samples: 32,
        batchSize: 128,
        batches: 1,
        shuffleSeed: null,
      });
      const recalibrated = r.report.metrics.recalibrated;
      if (!recalibrated || !('accuracy' in recalibrated)) throw new Error('no recalibrated metrics');
      // Evaluate the returned tensors afresh, as an export of them would be.
      const copy = ParamStore.fromArrays(gpu, r.pruned.description, await r.view.toArrays());
      try {
        const net = createClassifier(gpu, r.pruned.description, copy);
        const m = await evaluateClassifier(
          gpu,
          net,
          [...imageBatches(test, { batchSize: 128, normalize })].map((b) => ({
            x: b.x,
            labels: b.y,
            n: b.size,
          })),
        );
        expect(m.accuracy).toBe(recalibrated.accuracy);
        expect(Math.abs(m.loss - recalibrated.loss)).toBeLessThan(1e-5);
      } finally {
        copy.dispose();
      }
      // The same selection without the repair: the as-pruned metric is the same, nothing recalibrated.
      const off = await pruneSglp(
        { gpu, desc, params, normalize, train, test },
        { ...common, recalibrate: 0 },
      );
      try {
        expect(off.report.removed).toEqual(r.report.removed);
        expect(off.report.metrics.after).toEqual(r.report.metrics.after);
        expect(off.report.metrics.recalibrated).toBeUndefined();
        expect(off.report.protocol.recalibration).toBeNull();
      } finally {
        off.view.dispose();
      }
    } finally {
      r.view.dispose();
    }
  });
});
