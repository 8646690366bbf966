// Stopping GradNorm candidates early (docs/method.md §4, "Stopping early"): a min search hands the shared
// ResNet scorer its best score so far, and the scorer stops a candidate once the norm of the gradients
// computed so far exceeds it. The search must choose exactly what scoring every candidate in full chooses
// (same units, bit-identical score), every candidate scored in full must be bit-identical, a stopped one's
// lower bound must lie between the best at the time and its full score, and stopped passes must free
// what they held. CifarResnet.backwardSteps must give backward()'s gradients bit for bit.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelDescription } from '../../src/arch/types.js';
import type { Gpu } from '../../src/gpu/device.js';
import { imageBatches } from '../../src/io/batches.js';
import type { ParamStore } from '../../src/nn/params.js';
import { CifarResnet } from '../../src/nn/resnet.js';
import { softmaxCrossEntropy } from '../../src/ops/cross-entropy.js';
import { exhaustiveSearch, greedySearch, type ScoredCandidate } from '../../src/sglp/candidates.js';
import {
  disposeGradNormBatches,
  type GradNormBatch,
  segmentScorer,
  uploadGradNormBatches,
} from '../../src/sglp/importance.js';
import { useGpu } from '../helpers/gpu.js';
import { tinyConfig, tinyDataset, tinyDescription, tinyParams } from '../helpers/tiny-model.js';

const getGpu = useGpu();

let gpu: Gpu;
let desc: ModelDescription;
let params: ParamStore;
let batches: GradNormBatch[];
const PROTECTED = [0, 4, 7];

beforeAll(async () => {
  gpu = await getGpu();
  desc = tinyDescription();
  params = tinyParams(gpu, desc);
  const data = tinyDataset('tiny-train', 40, 2);
  batches = uploadGradNormBatches(gpu, desc, [
    ...imageBatches(data, { batchSize: 11, normalize: tinyConfig().normalize, limit: 22 }),
  ]);
});

afterAll(() => {
  disposeGradNormBatches(batches);
  params.dispose();
});

/** Checks a bounded search against the same search scored in full. */
function expectSameChoice(
  full: { candidates: ScoredCandidate[]; best: ScoredCandidate },
  bounded: typeof full,
) {
  expect(bounded.best.units).toEqual(full.best.units);
  expect(Object.is(bounded.best.score, full.best.score)).toBe(true);
  expect(bounded.best.lowerBound).toBeUndefined();
  expect(bounded.candidates.map((c) => c.units)).toEqual(full.candidates.map((c) => c.units));
  bounded.candidates.forEach((c, i) => {
    const want = full.candidates[i].score;
    if (c.lowerBound) {
      expect(c.score, `${c.units}`).toBeGreaterThan(full.best.score);
      expect(c.score, `${c.units}`).toBeLessThanOrEqual(want * (1 + 1e-12));
    } else {
      expect(Object.is(c.score, want), `${c.units}: ${c.score} vs ${want}`).toBe(true);
    }
  });
}

describe('GradNorm search stopping early', () => {
  it('chooses exactly what the full search chooses, exhaustive and greedy, and does less backward work', async () => {
    const units = [1, 2, 3, 4, 5, 6, 7, 8];
    const full = segmentScorer(gpu, desc, params, [1, 9], batches, { share: false });
    const live = gpu.pool.liveBytes;
    const bounded = segmentScorer(gpu, desc, params, [1, 9], batches);
    try {
      const a = await exhaustiveSearch(units, PROTECTED, 4, full, 'min');
      const b = await exhaustiveSearch(units, PROTECTED, 4, bounded, 'min');
      expectSameChoice(a, b);
      const stats = bounded.sharing;
      if (!stats) throw new Error('expected sharing statistics');
      // The check can fail: some candidates must actually stop on this net.
      expect(stats.stopped).toBeGreaterThan(0);
      expect(stats.stopped).toBe(b.candidates.filter((c) => c.lowerBound).length);
      expect(stats.unitBackwards).toBeLessThan(stats.unitBackwardsPlain);
      const g = await greedySearch(units, PROTECTED, 3, full, 'min');
      const h = await greedySearch(units, PROTECTED, 3, bounded, 'min');
      expectSameChoice(g, h);
      // A max search never stops: the norm so far bounds a score from below only.
      const m = await exhaustiveSearch(units, PROTECTED, 6, bounded, 'max');
      expect(m.candidates.some((c) => c.lowerBound)).toBe(false);
    } finally {
      bounded.dispose();
    }
    // Stopped passes freed their activations and gradients: only the cache was held, and dispose freed it.
    expect(gpu.pool.liveBytes).toBe(live);
  });

  it('backwardSteps gives backward()’s gradients bit for bit and frees everything when stopped', async () => {
    const net = new CifarResnet(gpu, desc, params);
    const b = batches[0];
    const run = async () => {
      const { logits, saved } = await net.forward(b.x, { mode: 'train', updateRunningStats: false });
      const ce = softmaxCrossEntropy(gpu, logits, b.labels);
      if (!saved || !ce.dlogits) throw new Error('internal: no activations');
      logits.dispose();
      ce.loss.dispose();
      ce.perSample.dispose();
      return { saved, dlogits: ce.dlogits };
    };
    const one = await run();
    const whole = net.backward(one.saved, one.dlogits);
    one.dlogits.dispose();
    const two = await run();
    const steps = net.backwardSteps(two.saved, two.dlogits);
    const pieces: string[][] = [];
    let r = steps.next();
    for (; !r.done; r = steps.next()) pieces.push([...r.value.keys()]);
    two.dlogits.dispose();
    const stepped = r.value;
    expect([...stepped.keys()]).toEqual([...whole.keys()]);
    for (const [k, g] of whole)
      expect(await gpu.readF32(stepped.get(k) ?? g), k).toEqual(await gpu.readF32(g));
    // Pieces: the head, each block from the last, the stem.
    const { fc, stem } = net.net;
    expect(pieces[0]).toEqual([`${fc.name}.weight`, `${fc.name}.bias`]);
    expect(pieces.length).toBe(2 + net.blocks.length);
    expect(pieces.at(-1)?.sort()).toEqual(
      [`${stem.conv.name}.weight`, `${stem.bn.name}.weight`, `${stem.bn.name}.bias`].sort(),
    );
    for (const g of [...whole.values(), ...stepped.values()]) g.dispose();

    const live = gpu.pool.liveBytes;
    const three = await run();
    const held = gpu.pool.liveBytes;
    const early = net.backwardSteps(three.saved, three.dlogits);
    const first = early.next();
    if (first.done) throw new Error('expected a piece');
    for (const g of first.value.values()) g.dispose();
    early.return(new Map());
    three.dlogits.dispose();
    expect(three.saved.consumed).toBe(true);
    expect(held).toBeGreaterThan(live);
    expect(gpu.pool.liveBytes).toBe(live);
  });
});
