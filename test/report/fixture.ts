// Plausible sglp-report.json values for tests and for looking at report.html: a CIFAR-style ResNet-56 on
// Fashion-MNIST (28 units, K = 5 segments of 3, 7, 14, 2, 2, 14 removed, as in SGLP.md's reference point)
// and LLaMA-style decoders of any depth. The CKA matrix is seeded noise around a block structure whose
// row sums Fisher's partition splits into the intended segments; segmentation, keep plan and candidate
// search are the project's own (src/sglp), so the parts agree the way a real run's do.

import { Rng } from '../../src/io/prng.js';
import { type SegmentImportance, searchSegment } from '../../src/sglp/candidates.js';
import { planKeep } from '../../src/sglp/keep-plan.js';
import type { EvalMetrics, Report, ReportUnit } from '../../src/sglp/report/schema.js';
import { type Segment, segmentSequence } from '../../src/sglp/segment.js';

export interface FixtureOptions {
  seed?: number;
  /** Adds a 3-epoch fine-tune and its metrics. */
  finetune?: boolean;
  /** Renames units (e.g. to test escaping). */
  rename?: (name: string, index: number) => string;
}

/** conv k×k, cin → cout, on an output of hw × hw: [params, MACs]. */
function conv(k: number, cin: number, cout: number, hw: number): [number, number] {
  return [k * k * cin * cout, k * k * cin * cout * hw * hw];
}

/** The units of a CIFAR ResNet (BasicBlocks, option-A shortcuts) on a 1 × side × side input. */
function resnetUnits(depth: number, side: number, inChannels: number): ReportUnit[] {
  const n = (depth - 2) / 6;
  const [sp, sm] = conv(3, inChannels, 16, side);
  const units: ReportUnit[] = [
    { index: 0, name: 'conv1', protected: true, protectedReason: 'stem', params: sp + 32, macs: sm },
  ];
  let hw = side;
  let cin = 16;
  [16, 32, 64].forEach((width, s) => {
    for (let b = 0; b < n; b++) {
      const head = b === 0 && s > 0;
      if (head) hw = Math.floor((hw - 1) / 2) + 1;
      const [p1, m1] = conv(3, cin, width, hw);
      const [p2, m2] = conv(3, width, width, hw);
      units.push({
        index: units.length,
        name: `layer${s + 1}.${b}`,
        protected: head,
        ...(head ? { protectedReason: 'changes stride and width' } : {}),
        params: p1 + p2 + 4 * width,
        macs: m1 + m2,
      });
      cin = width;
    }
  });
  return units;
}

function llamaUnits(layers: number, hidden: number, inter: number, seqLen: number): ReportUnit[] {
  return Array.from({ length: layers }, (_, i) => ({
    index: i,
    name: `model.layers.${i}`,
    protected: false,
    params: 4 * hidden * hidden + 3 * hidden * inter + 2 * hidden,
    // Projections per token plus attention scores and mixing averaged over a causal window.
    macs: 4 * hidden * hidden + 3 * hidden * inter + hidden * seqLen,
  }));
}

/** Symmetric CKA matrix: high within a segment (level per segment), decaying across segments. */
function blockCka(sizes: readonly number[], rng: Rng, within: readonly number[]): number[][] {
  const seg: number[] = sizes.flatMap((size, s) => Array<number>(size).fill(s));
  const n = seg.length;
  const m = Array.from({ length: n }, () => new Array<number>(n).fill(1));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const noise = (rng.float() - 0.5) * 0.03;
      const base =
        seg[i] === seg[j]
          ? within[seg[i]] - 0.01 * (j - i)
          : 0.35 * Math.exp(-0.6 * Math.abs(seg[i] - seg[j])) * (1 - 0.004 * (j - i));
      const v = Math.min(0.999, Math.max(0.001, base + noise));
      m[i][j] = v;
      m[j][i] = v;
    }
  }
  return m;
}

function rowSums(m: number[][]): number[] {
  return m.map((row) => row.reduce((a, b) => a + b, 0));
}

function sizesOf(segments: readonly Segment[]): number[] {
  return segments.map(([a, b]) => b - a);
}

interface Spec {
  model: Report['model'];
  units: ReportUnit[];
  sizes: number[];
  within: number[];
  /** null: the elbow rule. */
  segments: number | null;
  remove: number;
  stem: number | null;
  protocol: Pick<Report['protocol'], 'data' | 'features'> & {
    importanceSamples: Report['protocol']['features'];
  };
  ckaRows: number;
  metrics: { before: EvalMetrics; after: EvalMetrics; afterFinetune: EvalMetrics };
  /** Parameters and MACs outside the units (classifier, embeddings). */
  extraParams: number;
  extraMacs: number;
  finetune: NonNullable<Report['protocol']['finetune']>;
  evalBatches: number;
}

async function build(spec: Spec, options: FixtureOptions): Promise<Report> {
  const seed = options.seed ?? 1;
  const rng = Rng.derive(seed, 1);
  const matrix = blockCka(spec.sizes, rng, spec.within);
  const seg = segmentSequence(rowSums(matrix), spec.segments === null ? {} : { segments: spec.segments });
  const prot = spec.units.filter((u) => u.protected).map((u) => u.index);
  const plan = planKeep(seg.segments, prot, { remove: spec.remove }, { stem: spec.stem });
  // GradNorm-like scores: larger when more (and earlier) units go, plus seeded noise per keep-set.
  const score = async (set: readonly number[]) => {
    const r = Rng.derive(seed, 2, ...set);
    return 1.5 + 0.05 * set.length + 0.8 * r.float();
  };
  const perSegment: SegmentImportance[] = [];
  for (let s = 0; s < seg.segments.length; s++) {
    const [a, b] = seg.segments[s];
    if (plan.keep[s] === b - a) continue;
    const units = spec.units.slice(a, b).map((u) => u.index);
    perSegment.push(await searchSegment(s, units, prot, plan.keep[s], score, 'min'));
  }
  const kept = seg.segments.flatMap(([a, b], s) => {
    const searched = perSegment.find((p) => p.segment === s);
    return searched ? searched.best.units : spec.units.slice(a, b).map((u) => u.index);
  });
  const keptSet = new Set(kept);
  const removed = spec.units.map((u) => u.index).filter((i) => !keptSet.has(i));
  const sum = (list: number[], key: 'params' | 'macs') => list.reduce((t, i) => t + spec.units[i][key], 0);
  const allUnits = spec.units.map((u) => u.index);
  const units = options.rename
    ? spec.units.map((u) => ({ ...u, name: options.rename?.(u.name, u.index) ?? u.name }))
    : spec.units;
  const candidates = perSegment.reduce((t, p) => t + p.candidates.length, 0);
  const kinds = new Set(perSegment.map((p) => p.search));
  const timings = {
    featuresMs: 4210.7 + 93 * units.length,
    ckaMs: 611.2 + 12 * units.length,
    segmentMs: 0.38,
    importanceMs: 212.5 * candidates,
    evalMs: 18020.4,
    finetuneMs: options.finetune ? 412_334.1 : 0,
    totalMs: 0,
  };
  timings.totalMs = Object.values(timings).reduce((a, b) => a + b, 0) + 1290.6;
  return {
    version: 1,
    model: spec.model,
    units,
    protocol: {
      preset: 'default',
      method: 'sglp',
      seed: 0,
      data: spec.protocol.data,
      features: spec.protocol.features,
      estimator: 'biased',
      segmentation: { segments: spec.segments, maxSegments: 6, elbowThreshold: 0.05 },
      target: { remove: spec.remove },
      importance: {
        score: 'gradnorm',
        select: 'min',
        samples: spec.protocol.importanceSamples,
        maxExhaustive: 2000,
      },
      eval: { split: 'test', limit: null },
      finetune: options.finetune ? spec.finetune : null,
    },
    cka: { estimator: 'biased', batches: spec.protocol.features.batches, batchSize: spec.ckaRows, matrix },
    segmentation: seg,
    importance: {
      search: kinds.size === 2 ? 'mixed' : kinds.has('greedy') ? 'greedy' : 'exhaustive',
      perSegment: perSegment.map((p) => ({ ...p })),
    },
    kept,
    removed,
    metrics: {
      before: spec.metrics.before,
      after: spec.metrics.after,
      ...(options.finetune ? { afterFinetune: spec.metrics.afterFinetune } : {}),
    },
    size: {
      paramsBefore: sum(allUnits, 'params') + spec.extraParams,
      paramsAfter: sum(kept, 'params') + spec.extraParams,
      macsBefore: sum(allUnits, 'macs') + spec.extraMacs,
      macsAfter: sum(kept, 'macs') + spec.extraMacs,
    },
    timings,
    passes: {
      forward: spec.protocol.features.batches + 2 * candidates + 2 * spec.evalBatches,
      backward: spec.protocol.importanceSamples.batches * candidates,
    },
    device: { vendor: 'mesa', architecture: '', description: 'llvmpipe (LLVM 19.1.7, 256 bits)' },
    notes: [],
  };
}

/** ResNet-56 on Fashion-MNIST: 28 units, segments 3, 7, 14, 2, 2, remove 14. */
export function resnet56Report(options: FixtureOptions = {}): Promise<Report> {
  const units = resnetUnits(56, 28, 1);
  return build(
    {
      model: {
        name: 'ResNet-56',
        architecture: 'cifar-resnet',
        input: 'models/fmnist-resnet56',
        output: 'out/fmnist-resnet56-sglp',
      },
      units,
      sizes: [3, 7, 14, 2, 2],
      within: [0.55, 0.8, 0.9, 0.7, 0.6],
      segments: 5,
      remove: 14,
      stem: 0,
      protocol: {
        data: { spec: 'fashion-mnist', seqLen: null },
        features: { split: 'train', samples: 2500, batchSize: 500, batches: 5, shuffleSeed: null },
        importanceSamples: { split: 'train', samples: 128, batchSize: 64, batches: 2, shuffleSeed: null },
      },
      ckaRows: 500,
      metrics: {
        before: { accuracy: 0.8652, loss: 0.3841, samples: 10000 },
        after: { accuracy: 0.4551, loss: 1.7213, samples: 10000 },
        afterFinetune: { accuracy: 0.9117, loss: 0.2536, samples: 10000 },
      },
      extraParams: 64 * 10 + 10,
      extraMacs: 64 * 10,
      finetune: {
        epochs: 3,
        optimizer: 'sgd',
        lr: 0.01,
        schedule: 'cosine',
        momentum: 0.9,
        weightDecay: 5e-3,
        batchSize: 256,
        augment: false,
        seed: 0,
      },
      evalBatches: 20,
    },
    options,
  );
}

/** A byte-level LLaMA of `layers` decoder layers, with the elbow rule and half the layers removed. */
export function llamaReport(layers: number, options: FixtureOptions = {}): Promise<Report> {
  const hidden = 256;
  const seqLen = 128;
  const units = llamaUnits(layers, hidden, 688, seqLen);
  // Segment sizes that sum to `layers`: short first and last runs, long middle ones.
  const cuts = [0.08, 0.22, 0.5, 0.78, 0.9, 1].map((f) => Math.round(f * layers));
  const sizes = cuts.map((c, i) => c - (i === 0 ? 0 : cuts[i - 1])).filter((s) => s > 0);
  const nll = (ppl: number) => Math.log(ppl);
  return build(
    {
      model: {
        name: `LLaMA (${layers} layers)`,
        architecture: 'llama',
        input: `models/llama-${layers}`,
        output: `out/llama-${layers}-sglp`,
      },
      units,
      sizes,
      within: sizes.map((_, i) => 0.62 + 0.05 * ((i * 3) % 5)),
      segments: null,
      remove: Math.floor(layers / 2),
      stem: null,
      protocol: {
        data: { spec: 'text:/usr/share/games/fortunes/fortunes', seqLen },
        features: { split: 'train', samples: 16, batchSize: 4, batches: 4, shuffleSeed: null },
        importanceSamples: { split: 'train', samples: 8, batchSize: 4, batches: 2, shuffleSeed: null },
      },
      ckaRows: 4 * seqLen,
      metrics: {
        before: { perplexity: Math.exp(nll(5.81)), nll: nll(5.81), tokens: 61_722 },
        after: { perplexity: Math.exp(nll(10.12)), nll: nll(10.12), tokens: 61_722 },
        afterFinetune: { perplexity: Math.exp(nll(6.94)), nll: nll(6.94), tokens: 61_722 },
      },
      extraParams: 2 * 256 * hidden + hidden,
      extraMacs: 256 * hidden,
      finetune: {
        epochs: 1,
        optimizer: 'adamw',
        lr: 3e-4,
        schedule: 'cosine',
        momentum: null,
        weightDecay: 0.1,
        batchSize: 16,
        augment: false,
        seed: 0,
      },
      evalBatches: 121,
    },
    options,
  );
}

/** sizes of the fixture's segments (for assertions). */
export function segmentSizes(report: Report): number[] {
  return sizesOf(report.segmentation.segments);
}

/**
 * The same run as a score-ranking baseline: per-unit scores from the CKA of neighbours (a unit that
 * changes its input little scores low), the lowest unprotected units removed, no GradNorm search.
 */
export function asBaseline(report: Report, method: 'block-influence' | 'angular'): Report {
  const m = report.cka.matrix;
  const scores = report.units.map((u, i) =>
    u.protected || i === 0 ? null : Number((1 - m[i][i - 1] + 0.01 * (i % 3)).toFixed(6)),
  );
  const remove = report.removed.length;
  const order = scores
    .map((s, i) => ({ s, i }))
    .filter((e): e is { s: number; i: number } => e.s !== null)
    .sort((a, b) => a.s - b.s || a.i - b.i);
  const removedSet = new Set(order.slice(0, remove).map((e) => e.i));
  const removed = [...removedSet].sort((a, b) => a - b);
  const kept = report.units.map((u) => u.index).filter((i) => !removedSet.has(i));
  const sum = (list: number[], key: 'params' | 'macs') => list.reduce((t, i) => t + report.units[i][key], 0);
  const extraParams =
    report.size.paramsBefore -
    sum(
      report.units.map((u) => u.index),
      'params',
    );
  const extraMacs =
    report.size.macsBefore -
    sum(
      report.units.map((u) => u.index),
      'macs',
    );
  const { importance: _importance, ...rest } = report;
  return {
    ...rest,
    protocol: { ...report.protocol, method, importance: null },
    unitScores: { kind: method, scores },
    kept,
    removed,
    metrics: { ...report.metrics, after: worse(report.metrics.after) },
    size: {
      ...report.size,
      paramsAfter: sum(kept, 'params') + extraParams,
      macsAfter: sum(kept, 'macs') + extraMacs,
    },
    timings: {
      ...report.timings,
      importanceMs: 0,
      totalMs: report.timings.totalMs - report.timings.importanceMs,
    },
  };
}

/** A plausibly worse evaluation, for baselines. */
function worse(m: EvalMetrics): EvalMetrics {
  if ('accuracy' in m) return { ...m, accuracy: Number((m.accuracy * 0.7).toFixed(4)), loss: m.loss * 1.4 };
  const nll = m.nll * 1.3;
  return { ...m, nll, perplexity: Math.exp(nll) };
}
