// SGLP end to end (src/sglp/pipeline.ts) on a tiny random-weight cifar-resnet (10 units, protected 0, 4, 7):
// the report validates and agrees with the keep plan and the search, every candidate is scored, two runs
// agree except for timings, the loaded parameters are untouched, GradNorm scoring leaves BN running
// statistics bit-identical, and a candidate network over a view of the tensors scores exactly as a copy.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneModel } from '../../src/arch/prune.js';
import type { ModelDescription } from '../../src/arch/types.js';
import type { Gpu } from '../../src/gpu/device.js';
import { imageBatches } from '../../src/io/batches.js';
import type { ImageDataset } from '../../src/io/dataset.js';
import { ParamStore } from '../../src/nn/params.js';
import { CifarResnet } from '../../src/nn/resnet.js';
import { planSearch, searchSegment } from '../../src/sglp/candidates.js';
import { type PruneOptions, type PruneResult, pruneSglp } from '../../src/sglp/families/image/prune.js';
import {
  disposeGradNormBatches,
  networkGradNorm,
  segmentScorer,
  uploadGradNormBatches,
} from '../../src/sglp/importance.js';
import { planKeep } from '../../src/sglp/keep-plan.js';
import { candidateCount } from '../../src/sglp/pipeline.js';
import { prunedNetwork } from '../../src/sglp/pruned-view.js';
import { parseReport, reportWithoutTimings } from '../../src/sglp/report/schema.js';
import { useGpu } from '../helpers/gpu.js';
import { tinyArrays, tinyConfig, tinyDataset, tinyDescription, tinyParams } from '../helpers/tiny-model.js';

const getGpu = useGpu();

let gpu: Gpu;
let desc: ModelDescription;
let params: ParamStore;
let train: ImageDataset;
let test: ImageDataset;
let first: PruneResult;
let snapshot: Record<string, Float32Array>;

const normalize = tinyConfig().normalize;

const options = (extra: Partial<PruneOptions> = {}): PruneOptions => ({
  target: { remove: 3 },
  samples: 40,
  batch: 20,
  gradnormBatches: 2,
  gradnormBatchSize: 8,
  score: 'gradnorm',
  dataSpec: 'tiny',
  input: 'in',
  output: 'out',
  ...extra,
});

const run = (extra: Partial<PruneOptions> = {}) =>
  pruneSglp({ gpu, desc, params, normalize, train, test }, options(extra));

beforeAll(async () => {
  gpu = await getGpu();
  desc = tinyDescription();
  params = tinyParams(gpu, desc);
  train = tinyDataset('tiny train', 64, 1);
  test = tinyDataset('tiny test', 30, 2);
  snapshot = await params.toArrays();
  first = await run();
});

afterAll(() => {
  params?.dispose();
});

describe('pruneSglp', () => {
  it('gives a valid report whose kept/removed follow the keep plan and the search', () => {
    const r = parseReport(JSON.parse(JSON.stringify(first.report)));
    expect(r.units).toHaveLength(10);
    expect(r.units.filter((u) => u.protected).map((u) => u.index)).toEqual([0, 4, 7]);
    expect(r.removed).toHaveLength(3);
    expect([...r.kept, ...r.removed].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    expect(r.protocol.preset).toBe('reduced');
    expect(r.cka).toMatchObject({ batches: 2, batchSize: 20, estimator: 'biased' });
    expect(r.passes.backward).toBeGreaterThan(0);
    const plan = planKeep(r.segmentation.segments, [0, 4, 7], { remove: 3 });
    r.segmentation.segments.forEach(([a, b], i) => {
      const keptHere = r.kept.filter((u) => u >= a && u < b);
      expect(keptHere).toHaveLength(plan.keep[i]);
      const searched = r.importance?.perSegment.find((p) => p.segment === i);
      if (plan.keep[i] < b - a) {
        expect(searched).toBeDefined();
        expect(searched?.best.units).toEqual(keptHere);
      } else expect(searched).toBeUndefined();
    });
    // The pruned model is the description of the kept units.
    expect(first.pruned.kept).toEqual(r.kept);
    expect(r.size.paramsAfter).toBe(first.pruned.description.paramCount);
    expect(r.size.paramsAfter).toBeLessThan(r.size.paramsBefore);
    expect(r.metrics.before).toMatchObject({ samples: 30 });
  });

  it('scores every candidate of an exhaustive search, and keeps the lowest', () => {
    const r = first.report;
    for (const p of r.importance?.perSegment ?? []) {
      const [a, b] = r.segmentation.segments[p.segment];
      const units = Array.from({ length: b - a }, (_, k) => a + k);
      const plan = planSearch(units, [0, 4, 7], p.keep);
      expect(p.search).toBe(plan.search);
      expect(BigInt(p.candidates.length)).toBe(plan.count);
      expect(new Set(p.candidates.map((c) => c.units.join(','))).size).toBe(p.candidates.length);
      for (const c of p.candidates) expect(Number.isFinite(c.score) && c.score > 0).toBe(true);
      expect(p.best.score).toBe(Math.min(...p.candidates.map((c) => c.score)));
    }
  });

  it('gives the same report twice (timings aside) and leaves the loaded tensors unchanged', async () => {
    const again = await run();
    expect(reportWithoutTimings(again.report)).toEqual(reportWithoutTimings(first.report));
    const now = await params.toArrays();
    for (const k of Object.keys(snapshot)) expect(now[k], k).toEqual(snapshot[k]);
  });

  it('--select max keeps the highest score; --keep-per-segment and --segments are followed', async () => {
    const k = first.report.segmentation.k;
    const segs = first.report.segmentation.segments;
    const keep = segs.map(([a, b], i) => (i === segs.length - 1 ? Math.max(1, b - a - 1) : b - a));
    const r = (await run({ target: { keepPerSegment: keep }, segments: k, select: 'max' })).report;
    expect(r.segmentation.kRule).toBe('fixed');
    expect(r.protocol.target).toEqual({ keepPerSegment: keep });
    for (const p of r.importance?.perSegment ?? []) {
      expect(p.best.score).toBe(Math.max(...p.candidates.map((c) => c.score)));
    }
  });

  it('--max-exhaustive 1 searches greedily and says so in the report', async () => {
    const r = (await run({ maxExhaustive: 1 })).report;
    expect(r.protocol.importance?.maxExhaustive).toBe(1);
    expect(r.importance?.perSegment.some((p) => p.search === 'greedy')).toBe(true);
    for (const p of r.importance?.perSegment ?? []) {
      const [a, b] = r.segmentation.segments[p.segment];
      const units = Array.from({ length: b - a }, (_, k) => a + k);
      expect(p.candidates.length).toBe(candidateCount(units, [0, 4, 7], p.keep, 1));
    }
    expect(r.notes.join(' ')).toMatch(/exhaustive search up to 1 candidates/);
  });

  it('stops on an aborted signal and refuses architectures it cannot run yet', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop here'));
    await expect(run({ signal: controller.signal })).rejects.toThrow('stop here');
    // VGG runs here (test/sglp/pipeline-vgg.test.ts); decoder LMs go through src/sglp/families/lm/.
    const llm = { ...desc, architecture: 'llama' } as unknown as ModelDescription;
    await expect(pruneSglp({ gpu, desc: llm, params, normalize, train, test }, options())).rejects.toThrow(
      /pruneSglp runs image classifiers; prune a decoder LM with pruneLlm/,
    );
    await expect(run({ target: { remove: 9 } })).rejects.toThrow(/remove/);
  });
});

describe('GradNorm scoring', () => {
  it('leaves BN running statistics (and every weight) bit-identical', async () => {
    const buffers = params.bufferKeys();
    const before = await params.toArrays(buffers);
    const batches = uploadGradNormBatches(gpu, desc, [
      ...imageBatches(train, { batchSize: 8, normalize, limit: 16 }),
    ]);
    try {
      const score = segmentScorer(gpu, desc, params, [1, 4], batches);
      expect(await score([1, 3])).toBeGreaterThan(0);
      // The full network too, in train mode without running-statistics updates.
      const full = new CifarResnet(gpu, desc, params);
      expect(await networkGradNorm(gpu, full, batches)).toBeGreaterThan(0);
    } finally {
      disposeGradNormBatches(batches);
    }
    const after = await params.toArrays(buffers);
    for (const k of buffers) expect(after[k], k).toEqual(before[k]);
  });

  it('a candidate over a view of the tensors scores exactly as the same network built from copies', async () => {
    const batches = uploadGradNormBatches(gpu, desc, [
      ...imageBatches(train, { batchSize: 8, normalize, limit: 16 }),
    ]);
    const removed = [2, 5];
    const pruned = pruneModel(desc, removed);
    const arrays = tinyArrays(desc);
    const renamed: Record<string, Float32Array> = {};
    for (const [oldKey, newKey] of pruned.keyMap) if (arrays[oldKey]) renamed[newKey] = arrays[oldKey];
    const copy = ParamStore.fromArrays(gpu, pruned.description, renamed);
    try {
      const viaView = await networkGradNorm(gpu, prunedNetwork(gpu, desc, params, removed).net, batches);
      const viaCopy = await networkGradNorm(gpu, new CifarResnet(gpu, pruned.description, copy), batches);
      expect(viaView).toBe(viaCopy);
      // Scoring by segment gives the same network: segment [4, 7) keeping 4 and 6 removes unit 5 only.
      const single = await segmentScorer(gpu, desc, params, [4, 7], batches)([4, 6]);
      expect(single).toBe(await networkGradNorm(gpu, prunedNetwork(gpu, desc, params, [5]).net, batches));
    } finally {
      copy.dispose();
      disposeGradNormBatches(batches);
    }
  });
});

describe('candidateCount', () => {
  it('is the number of candidates searchSegment scores, exhaustive and greedy', async () => {
    const units = Array.from({ length: 20 }, (_, i) => i + 3);
    const score = async (set: readonly number[]) => set.reduce((a, u) => a + ((u * 7) % 11), 1);
    for (const [prot, keep] of [
      [[3], 18],
      [[3, 9], 12],
      [[], 10],
    ] as const) {
      const r = await searchSegment(0, units, prot, keep, score, 'min');
      expect(r.candidates.length, `${prot} keep ${keep} (${r.search})`).toBe(
        candidateCount(units, prot, keep),
      );
    }
    expect((await searchSegment(0, units, [], 10, score, 'min')).search).toBe('greedy');
  });
});
