// SGLP's within-segment scores on a tiny cifar-resnet (docs/method.md §4): the loss score of a candidate is
// the float64 eval-mode cross-entropy of the pruned network; the similarity score keeps, in every segment,
// the protected units and those with the highest block influence (the block-influence baseline's own
// scores); both run the same segmentation and keep plan as GradNorm.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneModel } from '../../src/arch/prune.js';
import type { ModelDescription } from '../../src/arch/types.js';
import type { Gpu } from '../../src/gpu/device.js';
import { imageBatches } from '../../src/io/batches.js';
import type { ImageDataset } from '../../src/io/dataset.js';
import type { ParamStore } from '../../src/nn/params.js';
import { keepSets } from '../../src/sglp/candidates.js';
import { type PruneOptions, pruneSglp } from '../../src/sglp/families/image/prune.js';
import { disposeGradNormBatches, uploadGradNormBatches } from '../../src/sglp/importance.js';
import { segmentLossScorer } from '../../src/sglp/loss-score.js';
import { prunedView } from '../../src/sglp/pruned-view.js';
import { rankSegments } from '../../src/sglp/search-stage.js';
import { useGpu } from '../helpers/gpu.js';
import { tinyConfig, tinyDataset, tinyDescription, tinyParams } from '../helpers/tiny-model.js';
import { resnetLossRef, to64 } from '../nn/resnet-reference.js';

const getGpu = useGpu();
const normalize = tinyConfig().normalize;

let gpu: Gpu;
let desc: ModelDescription;
let params: ParamStore;
let train: ImageDataset;
let test: ImageDataset;

beforeAll(async () => {
  gpu = await getGpu();
  desc = tinyDescription();
  params = tinyParams(gpu, desc);
  train = tinyDataset('tiny train', 64, 1);
  test = tinyDataset('tiny test', 30, 2);
});

afterAll(() => params?.dispose());

const options = (extra: Partial<PruneOptions>): PruneOptions => ({
  target: { remove: 3 },
  samples: 40,
  batch: 20,
  gradnormBatches: 2,
  gradnormBatchSize: 8,
  recalibrate: 0,
  dataSpec: 'tiny',
  input: 'in',
  output: 'out',
  ...extra,
});

describe('loss score', () => {
  it("is the pruned network's float64 eval-mode cross-entropy, averaged over the batches", async () => {
    const host = [...imageBatches(train, { batchSize: 8, normalize, limit: 16 })];
    const batches = uploadGradNormBatches(gpu, desc, host);
    try {
      const counters = { forward: 0 };
      const score = segmentLossScorer(gpu, desc, params, [1, 7], batches, { counters });
      for (const keep of [
        [1, 3, 4, 6],
        [2, 4, 5],
      ]) {
        const removed = [1, 2, 3, 4, 5, 6].filter((u) => !keep.includes(u));
        const pruned = pruneModel(desc, removed);
        const view = prunedView(gpu, params, pruned);
        const p64 = to64(await view.toArrays());
        view.dispose();
        const want =
          host.reduce((s, b) => s + resnetLossRef(pruned.description, p64, b.x, b.y, false), 0) / host.length;
        const got = await score(keep);
        expect(Math.abs(got - want), `keep ${keep}`).toBeLessThanOrEqual(2e-5 * want);
      }
      expect(counters.forward).toBe(4);
    } finally {
      disposeGradNormBatches(batches);
    }
  });

  it('shares the forward work on ResNets with scores bit-identical to a pruned network each', async () => {
    const host = [...imageBatches(train, { batchSize: 8, normalize, limit: 16 })];
    const batches = uploadGradNormBatches(gpu, desc, host);
    try {
      for (const segment of [
        [0, 4],
        [1, 7],
        [5, 10],
      ] as const) {
        const prot = desc.units.filter((u) => u.protected).map((u) => u.index);
        const sets = [
          ...keepSets(
            Array.from({ length: segment[1] - segment[0] }, (_, k) => segment[0] + k),
            prot,
            3,
          ),
        ];
        // Lexicographic, then a shuffled order (greedy visits sets out of order).
        const order = [...sets, ...[...sets].reverse().filter((_, i) => i % 2 === 0)];
        const counters = { forward: 0 };
        const shared = segmentLossScorer(gpu, desc, params, segment, batches, { counters });
        const plain = segmentLossScorer(gpu, desc, params, segment, batches, { share: false });
        const a: number[] = [];
        for (const set of order) a.push(await shared(set));
        const b: number[] = [];
        for (const set of order) b.push(await plain(set));
        a.forEach((v, i) => {
          expect(Object.is(v, b[i]), `segment ${segment} keep ${order[i]}: ${v} vs ${b[i]}`).toBe(true);
        });
        expect(counters.forward).toBe(2 * order.length);
      }
    } finally {
      disposeGradNormBatches(batches);
    }
  });

  it('pruneSglp --score loss keeps the lowest loss of every exhaustively scored segment', async () => {
    const r = await pruneSglp({ gpu, desc, params, normalize, train, test }, options({ score: 'loss' }));
    try {
      expect(r.report.protocol.importance).toMatchObject({ score: 'loss', select: 'min' });
      expect(r.report.passes.backward).toBe(0);
      for (const p of r.report.importance?.perSegment ?? []) {
        expect(p.best.score).toBe(Math.min(...p.candidates.map((c) => c.score)));
      }
      expect(r.report.importance?.perSegment.length).toBeGreaterThan(0);
    } finally {
      r.view.dispose();
    }
  });
});

describe('similarity score', () => {
  it('keeps the highest block influence of every segment, read in the calibration pass', async () => {
    const sim = await pruneSglp(
      { gpu, desc, params, normalize, train, test },
      options({ score: 'similarity' }),
    );
    const bi = await pruneSglp(
      { gpu, desc, params, normalize, train, test },
      options({ method: 'block-influence' }),
    );
    try {
      const scores = sim.report.unitScores?.scores ?? [];
      expect(sim.report.unitScores?.kind).toBe('block-influence');
      expect(scores).toEqual(bi.report.unitScores?.scores);
      expect(sim.report.importance?.search).toBe('ranked');
      const protectedUnits = desc.units.filter((u) => u.protected).map((u) => u.index);
      for (const p of sim.report.importance?.perSegment ?? []) {
        const [a, b] = sim.report.segmentation.segments[p.segment];
        const free = Array.from({ length: b - a }, (_, k) => a + k).filter(
          (u) => !protectedUnits.includes(u),
        );
        const kept = free.filter((u) => p.best.units.includes(u));
        const dropped = free.filter((u) => !p.best.units.includes(u));
        // Every kept unprotected unit has at least the influence of every removed one.
        for (const k of kept)
          for (const d of dropped) expect(scores[k] as number).toBeGreaterThanOrEqual(scores[d] as number);
      }
      expect(sim.report.removed.length).toBe(3);
      // No scoring passes: calibration only.
      expect(sim.report.passes.backward).toBe(0);
      // The same segmentation and keep plan as any SGLP run.
      expect(sim.report.segmentation).toEqual(bi.report.segmentation);
    } finally {
      sim.view.dispose();
      bi.view.dispose();
    }
  });

  it('ranks with protected units always kept and ties going to the earlier unit', () => {
    const influence = [null, 0.2, 0.5, 0.2, null, 0.9, 0.1];
    const r = rankSegments(
      [
        [0, 4],
        [4, 7],
      ],
      [2, 2],
      [0, 4],
      influence,
    );
    expect(r.map((p) => p.best.units)).toEqual([
      [0, 2],
      [4, 5],
    ]);
    const tie = rankSegments([[0, 4]], [3], [0], influence);
    expect(tie[0].best).toEqual({ units: [0, 1, 2], score: 0.7 });
    expect(() => rankSegments([[0, 3]], [1], [], [0.1, null, 0.2])).toThrow(
      /unit 1 has no finite block influence/,
    );
  });
});

describe('score options', () => {
  it('refuses --select with a score that does not search, and an unknown score', async () => {
    await expect(
      pruneSglp(
        { gpu, desc, params, normalize, train, test },
        options({ score: 'similarity', select: 'max' }),
      ),
    ).rejects.toThrow(/^select chooses between GradNorm scores; it does not apply to score similarity/);
    await expect(
      pruneSglp(
        { gpu, desc, params, normalize, train, test },
        options({ score: 'fisher' as unknown as PruneOptions['score'] }),
      ),
    ).rejects.toThrow(/^score must be one of gradnorm, loss, similarity, got "fisher"/);
  });
});
