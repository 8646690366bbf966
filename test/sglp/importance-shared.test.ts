// The shared GradNorm path (src/sglp/gradnorm-shared.ts) against the plain one (a whole pruned network per
// candidate) on a tiny random-weight cifar-resnet (units 0–9, protected 0, 4, 7; option-A shortcuts at 4
// and 7): scores must be bit-identical, in lexicographic and greedy order, for segments with and without
// blocks before and after them; the cache must not leak, and must leave the parameters untouched.
// Stopping early (docs/method.md §4): a min search hands the scorer its best score so far, and the scorer
// stops a candidate once the norm of the gradients so far exceeds it. The search must choose exactly what
// scoring every candidate in full chooses (same units, bit-identical score), every candidate scored in full
// must be bit-identical, a stopped one's lower bound must lie between the best at the time and its full
// score, and stopped passes must free what they held. CifarResnet.backwardSteps must give backward()'s
// gradients bit for bit.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelDescription } from '../../src/arch/types.js';
import type { Gpu } from '../../src/gpu/device.js';
import { imageBatches } from '../../src/io/batches.js';
import type { ParamStore } from '../../src/nn/params.js';
import { CifarResnet } from '../../src/nn/resnet.js';
import { softmaxCrossEntropy } from '../../src/ops/norm/cross-entropy.js';
import { exhaustiveSearch, greedySearch, keepSets, type ScoredCandidate } from '../../src/sglp/candidates.js';
import {
  disposeGradNormBatches,
  type GradNormBatch,
  segmentScorer,
  sharingTotals,
  uploadGradNormBatches,
} from '../../src/sglp/importance.js';
import { useGpu } from '../helpers/gpu.js';
import { tinyArrays, tinyConfig, tinyDataset, tinyDescription, tinyParams } from '../helpers/tiny-model.js';

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
  const data = tinyDataset('tiny-train', 40, 1);
  // 2 batches of 11: sizes that divide no tile.
  batches = uploadGradNormBatches(gpu, desc, [
    ...imageBatches(data, { batchSize: 11, normalize: tinyConfig().normalize, limit: 22 }),
  ]);
});

afterAll(() => {
  disposeGradNormBatches(batches);
  params.dispose();
});

async function scoresOf(
  segment: [number, number],
  sets: readonly number[][],
  share: boolean,
): Promise<{ scores: number[]; passes: { forward: number; backward: number }; sharing: unknown }> {
  const passes = { forward: 0, backward: 0 };
  const score = segmentScorer(gpu, desc, params, segment, batches, { counters: passes, share });
  const scores: number[] = [];
  try {
    for (const s of sets) scores.push(await score(s));
  } finally {
    score.dispose();
  }
  return { scores, passes, sharing: sharingTotals(passes) };
}

describe('shared GradNorm scoring', () => {
  it.each([
    { segment: [1, 4] as [number, number], keep: 2 }, // only the stem before it
    { segment: [2, 9] as [number, number], keep: 4 }, // blocks before and after, two protected units
    { segment: [5, 10] as [number, number], keep: 3 }, // nothing after it
  ])(
    'gives bit-identical scores to whole pruned networks: $segment keep $keep',
    async ({ segment, keep }) => {
      const units = Array.from({ length: segment[1] - segment[0] }, (_, i) => segment[0] + i);
      const sets = [...keepSets(units, PROTECTED, keep)].slice(0, 8);
      const plain = await scoresOf(segment, sets, false);
      const shared = await scoresOf(segment, sets, true);
      expect(shared.scores).toEqual(plain.scores);
      for (let i = 0; i < sets.length; i++) expect(Object.is(shared.scores[i], plain.scores[i])).toBe(true);
      expect(new Set(plain.scores).size).toBeGreaterThan(1);
      // One pass per candidate and batch, plus the forward up to the segment once per batch.
      expect(plain.passes).toEqual({ forward: 2 * sets.length, backward: 2 * sets.length });
      expect(shared.passes).toEqual({ forward: 2 * sets.length + 2, backward: 2 * sets.length });
      expect(plain.sharing).toBeUndefined();
      // Units per batch: stem + 9 blocks minus the removed ones, for each candidate and batch.
      const plainUnits = sets.length * 2 * (10 - (segment[1] - segment[0] - keep));
      expect(shared.sharing).toMatchObject({
        candidates: sets.length,
        readbacks: sets.length,
        unitForwardsPlain: plainUnits,
        unitBackwards: plainUnits,
      });
    },
  );

  it('gives the plain scores in greedy order too, and shares forward work', async () => {
    const segment: [number, number] = [1, 9];
    const units = [1, 2, 3, 4, 5, 6, 7, 8];
    const plain = segmentScorer(gpu, desc, params, segment, batches, { share: false });
    const shared = segmentScorer(gpu, desc, params, segment, batches);
    try {
      const a = await greedySearch(units, PROTECTED, 5, plain, 'min');
      // Without the search's bound: every candidate in full (the stopping tests below cover that).
      const b = await greedySearch(units, PROTECTED, 5, (set) => shared(set), 'min');
      expect(b.candidates).toEqual(a.candidates);
      expect(b.best).toEqual(a.best);
      const s = shared.sharing;
      if (!s) throw new Error('expected sharing statistics');
      expect(s.candidates).toBe(a.candidates.length);
      expect(s.readbacks).toBe(a.candidates.length);
      expect(s.unitForwards).toBeLessThan(s.unitForwardsPlain);
      expect(plain.sharing).toBeUndefined();
    } finally {
      shared.dispose();
    }
  });

  it('frees its cache, leaves the parameters untouched, and refuses use after release', async () => {
    const before = await params.toArrays();
    const live = gpu.pool.liveBytes;
    const score = segmentScorer(gpu, desc, params, [2, 9], batches);
    await score([2, 3, 4, 7]);
    await score([2, 4, 5, 7]);
    expect(gpu.pool.liveBytes).toBeGreaterThan(live);
    // A new scorer on the same batches releases this one (one segment is searched at a time).
    const next = segmentScorer(gpu, desc, params, [5, 10], batches);
    expect(gpu.pool.liveBytes).toBe(live);
    await expect(score([2, 3, 4, 7])).rejects.toThrow(/after dispose/);
    next.dispose();
    const after = await params.toArrays();
    for (const k of Object.keys(before)) expect(after[k], k).toEqual(before[k]);
    expect(Object.keys(before).length).toBe(Object.keys(tinyArrays(desc)).length);
  });

  it('refuses a segment that holds the stem or runs past the model', () => {
    expect(() => segmentScorer(gpu, desc, params, [0, 3], batches)).toThrow(/\[0, 3\).*blocks only/);
    expect(() => segmentScorer(gpu, desc, params, [5, 11], batches)).toThrow(/\[5, 11\).*10 units/);
  });
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
