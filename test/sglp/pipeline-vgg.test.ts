// SGLP on a CIFAR VGG-BN (SGLP.md §0): a removed conv is dropped and the next conv, whose input width then
// changes, gets seeded fresh weights (PyTorch's default Conv2d init; its BN kept). Checked here: the init's
// bounds, spread and determinism (independent of the candidate it appears in), and on a tiny 5-conv VGG the
// whole pipeline: the report names the re-initialised convs, every candidate's score equals a direct
// GradNorm of that candidate's network, the winning score equals the GradNorm of a model rebuilt from the
// exported tensors, two runs agree, the seed changes only the fresh weights, and the baselines that compare a
// unit's input with its output refuse VGG clearly.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { pruneModel } from '../../src/arch/prune.js';
import type { ModelDescription } from '../../src/arch/types.js';
import type { Gpu } from '../../src/gpu/device.js';
import { imageBatches } from '../../src/io/batches.js';
import { validateModelConfig } from '../../src/io/config.js';
import type { ImageDataset } from '../../src/io/dataset.js';
import { ParamStore } from '../../src/nn/params.js';
import { Vgg } from '../../src/nn/vgg.js';
import { prunedTensors } from '../../src/sglp/export.js';
import { type PruneOptions, type PruneResult, pruneSglp } from '../../src/sglp/families/image/prune.js';
import {
  disposeGradNormBatches,
  type GradNormBatch,
  networkGradNorm,
  uploadGradNormBatches,
} from '../../src/sglp/importance.js';
import { prunedNetwork, prunedView } from '../../src/sglp/pruned-view.js';
import { reinitArrays } from '../../src/sglp/reinit.js';
import { parseReport, reportWithoutTimings } from '../../src/sglp/report/schema.js';
import { useGpu } from '../helpers/gpu.js';
import { tinyArrays } from '../helpers/tiny-model.js';
import { TINY_VGG_CONFIG, tinyDataset32, tinyVggDescription } from '../helpers/tiny-vgg.js';

const getGpu = useGpu();

let gpu: Gpu;
let desc: ModelDescription;
let params: ParamStore;
let train: ImageDataset;
let test: ImageDataset;
let snapshot: Record<string, Float32Array>;
let first: PruneResult;
let batches: GradNormBatch[];

const normalize = TINY_VGG_CONFIG.normalize;

// One segment of five units, the last protected: keep 3 of 5, C(4, 2) = 6 candidates, each of which drops
// two of the first four convs and so re-initialises at least one conv.
const options = (extra: Partial<PruneOptions> = {}): PruneOptions => ({
  target: { remove: 2 },
  segments: 1,
  samples: 24,
  batch: 12,
  gradnormBatches: 2,
  gradnormBatchSize: 6,
  score: 'gradnorm',
  // The export is checked against the scored tensors: no repair in between.
  recalibrate: 0,
  dataSpec: 'tiny32',
  input: 'in',
  output: 'out',
  ...extra,
});

const run = (extra: Partial<PruneOptions> = {}) =>
  pruneSglp({ gpu, desc, params, normalize, train, test }, options(extra));

/** The exported tensors (F32 as written to model.safetensors) of a prune result, by new key. */
async function exported(r: PruneResult): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  for (const [k, t] of prunedTensors(r.pruned, r.view)) {
    const data = typeof t.data === 'function' ? await t.data() : t.data;
    out[k] = data as Float32Array;
  }
  return out;
}

beforeAll(async () => {
  gpu = await getGpu();
  desc = tinyVggDescription();
  params = ParamStore.fromArrays(gpu, desc, tinyArrays(desc));
  train = tinyDataset32('tiny32 train', 24, 1);
  test = tinyDataset32('tiny32 test', 20, 2);
  snapshot = await params.toArrays();
  first = await run();
  batches = uploadGradNormBatches(gpu, desc, [
    ...imageBatches(train, { batchSize: 6, normalize, limit: 12 }),
  ]);
});

afterAll(() => {
  if (batches) disposeGradNormBatches(batches);
  first?.view.dispose();
  params?.dispose();
});

describe('reinitArrays: PyTorch default Conv2d init, seeded by the original conv name', () => {
  const vgg16 = describeModel(
    validateModelConfig(
      {
        ...TINY_VGG_CONFIG,
        depth: 16,
        layers: undefined,
        in_channels: 3,
        input_size: [3, 32, 32],
        normalize: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
      },
      'vgg16',
    ),
  );
  // features.7 (64 → 128) removed: features.10 becomes features.7 and takes 64 channels instead of 128.
  const [r] = pruneModel(vgg16, [2]).reinit;

  it('draws weight and bias from U(−b, b), b = 1/√fan_in, with the spread of a uniform', () => {
    expect(r.oldName).toBe('features.10');
    const a = reinitArrays(r, 0);
    expect([...a.keys()]).toEqual(['features.7.weight', 'features.7.bias']);
    const b = 1 / Math.sqrt(64 * 9);
    const w = a.get('features.7.weight') as Float32Array;
    const bias = a.get('features.7.bias') as Float32Array;
    expect(w.length).toBe(128 * 64 * 9);
    expect(bias.length).toBe(128);
    for (const v of [...w, ...bias]) expect(Math.abs(v)).toBeLessThanOrEqual(b);
    let sum = 0;
    let sq = 0;
    for (const v of w) {
      sum += v;
      sq += v * v;
    }
    const mean = sum / w.length;
    const variance = sq / w.length - mean * mean;
    // 73,728 draws: the mean's standard error is b/√(3n) ≈ 0.002b, the variance's about 0.3% of b²/3.
    expect(Math.abs(mean)).toBeLessThan(0.01 * b);
    expect(Math.abs(variance / ((b * b) / 3) - 1)).toBeLessThan(0.02);
    expect(Math.max(...bias) - Math.min(...bias)).toBeGreaterThan(b);
  });

  it('is deterministic, depends on the seed and the conv, not on the candidate around it', () => {
    const again = reinitArrays(r, 0);
    expect(again).toEqual(reinitArrays(r, 0));
    expect(reinitArrays(r, 1).get('features.7.weight')).not.toEqual(again.get('features.7.weight'));
    // Another candidate that also removes features.24 (unit 7): features.10 is re-initialised alike.
    const other = pruneModel(vgg16, [2, 7]).reinit.find((x) => x.oldName === 'features.10');
    expect(other).toBeDefined();
    expect(reinitArrays(other as typeof r, 0)).toEqual(again);
    // Another conv draws from another stream: compare the first values scaled by their bounds.
    const [s] = pruneModel(vgg16, [0]).reinit; // features.3 (64 → 64) now takes 3 channels
    expect(s.oldName).toBe('features.3');
    const ws = reinitArrays(s, 0).get('features.0.weight') as Float32Array;
    const wr = again.get('features.7.weight') as Float32Array;
    const scaled = (w: Float32Array, fan: number) => Array.from(w.subarray(0, 64), (v) => v * Math.sqrt(fan));
    expect(scaled(ws, 27).map((v) => v.toFixed(3))).not.toEqual(scaled(wr, 576).map((v) => v.toFixed(3)));
    expect(() => reinitArrays(r, 0.5)).toThrow(/^seed must be an integer, got 0\.5/);
  });
});

describe('pruneSglp on a VGG', () => {
  it('re-initialises the conv after a removed one and says so in the report', () => {
    const r = parseReport(JSON.parse(JSON.stringify(first.report)));
    expect(r.model.architecture).toBe('vgg');
    expect(r.units.map((u) => u.name)).toEqual([
      'features.0',
      'features.4',
      'features.8',
      'features.12',
      'features.16',
    ]);
    expect(r.units.filter((u) => u.protected).map((u) => u.index)).toEqual([4]);
    expect(r.removed).toHaveLength(2);
    expect(r.reinitialised?.length).toBeGreaterThan(0);
    const reinit = first.pruned.reinit;
    expect(r.reinitialised).toEqual(reinit.map((x) => ({ unit: x.oldUnit, name: x.name, reason: x.reason })));
    for (const x of r.reinitialised ?? []) {
      expect(r.kept).toContain(x.unit);
      // The unit right before it in the original was removed.
      expect(r.removed).toContain(x.unit - 1);
    }
    for (const x of reinit) {
      expect(r.notes.some((n) => n.startsWith(`${x.oldName} re-initialised (now ${x.name})`))).toBe(true);
    }
    expect(first.view.freshKeys().sort()).toEqual(reinit.flatMap((x) => x.params.map((p) => p.key)).sort());
    // The pruned layer list is nn.Sequential's: a kept conv at 0, pools between, renumbered.
    const widths = r.kept.map((u) => [4, 6, 8, 10, 12][u]);
    expect(first.pruned.config).toMatchObject({
      layers: TINY_VGG_CONFIG.layers.filter((l) => l === 'M' || widths.includes(l as number)),
    });
  });

  it('scores each candidate as a direct GradNorm of its network, re-initialised convs included', async () => {
    const p = first.report.importance?.perSegment ?? [];
    expect(p).toHaveLength(1);
    expect(p[0].candidates).toHaveLength(6);
    // In reverse order: a candidate's fresh weights do not depend on the candidates scored before it.
    for (const c of [...p[0].candidates].reverse()) {
      const removed = [0, 1, 2, 3, 4].filter((u) => !c.units.includes(u));
      const { net, view, pruned } = prunedNetwork(gpu, desc, params, removed, 0);
      try {
        expect(pruned.reinit.length).toBeGreaterThan(0);
        expect(await networkGradNorm(gpu, net, batches)).toBe(c.score);
      } finally {
        view.dispose();
      }
    }
    expect(p[0].best.score).toBe(Math.min(...p[0].candidates.map((c) => c.score)));
  });

  it('exports exactly the weights that were scored: the best score is the exported model’s GradNorm', async () => {
    const arrays = await exported(first);
    const store = ParamStore.fromArrays(gpu, first.pruned.description, arrays);
    try {
      const score = await networkGradNorm(gpu, new Vgg(gpu, first.pruned.description, store), batches);
      expect(score).toBe(first.report.importance?.perSegment[0].best.score);
    } finally {
      store.dispose();
    }
    // Carried tensors are the loaded ones, renamed.
    for (const [oldKey, newKey] of first.pruned.keyMap) {
      if (arrays[newKey]) expect(arrays[newKey]).toEqual(snapshot[oldKey]);
    }
  });

  it('gives the same report and weights twice; the seed changes only the fresh weights', async () => {
    const again = await run();
    const seeded = await run({ seed: 7 });
    try {
      expect(reportWithoutTimings(again.report)).toEqual(reportWithoutTimings(first.report));
      expect(await exported(again)).toEqual(await exported(first));
      expect(await params.toArrays()).toEqual(snapshot);
      expect(seeded.report.protocol.seed).toBe(7);
      // The same removal gives the same layout; the fresh convs differ, the carried tensors do not.
      const same = pruneModel(desc, seeded.report.removed);
      const view = prunedView(gpu, params, same, 7);
      const base = prunedView(gpu, params, same, 0);
      try {
        for (const k of same.description.params.map((q) => q.key)) {
          const a = await gpu.readF32(view.get(k));
          const b = await gpu.readF32(base.get(k));
          if (view.freshKeys().includes(k)) expect(a).not.toEqual(b);
          else expect(a).toEqual(b);
        }
      } finally {
        view.dispose();
        base.dispose();
      }
    } finally {
      again.view.dispose();
      seeded.view.dispose();
    }
  });

  it('runs the random baseline (re-initialising too) and refuses block-influence/angular clearly', async () => {
    const random = await run({ method: 'random', seed: 3 });
    try {
      expect(random.report.removed).toHaveLength(2);
      expect(random.report.removed).not.toContain(4);
    } finally {
      random.view.dispose();
    }
    for (const method of ['block-influence', 'angular'] as const) {
      await expect(run({ method })).rejects.toThrow(
        /block-influence\/angular: VGG-11-BN \[5 convs\]: a conv's input and output differ in width/,
      );
    }
  });

  it('refuses clearly a candidate that would change the classifier input width', async () => {
    // Widths 4, 6, 8, 8, 8: the last conv is not protected, but keeping only units 0 and 1 leaves 6 channels.
    const config = validateModelConfig(
      { ...TINY_VGG_CONFIG, layers: [4, 'M', 6, 'M', 8, 'M', 8, 'M', 8, 'M'] },
      'c',
    );
    const d = describeModel(config);
    expect(d.units.some((u) => u.protected)).toBe(false);
    const p = ParamStore.fromArrays(gpu, d, tinyArrays(d));
    try {
      await expect(
        pruneSglp({ gpu, desc: d, params: p, normalize, train, test }, options({ target: { remove: 3 } })),
      ).rejects.toThrow(
        /GradNorm search of units 0 to 4, candidate keeping \[0, 1\]: cannot remove features\.8, features\.12, features\.16 from VGG-11-BN \[5 convs\]: "classifier\.0\.weight" would change from \[10, 8\] to \[10, 6\]/,
      );
    } finally {
      p.dispose();
    }
  });
});
