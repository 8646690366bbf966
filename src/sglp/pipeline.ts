// SGLP end to end on a loaded CIFAR-style ResNet (SGLP.md §1–4), as pure library code (no fs): calibration
// features → averaged CKA → Fisher segmentation → keep plan → GradNorm search per segment → the pruned
// model → metrics before/after → the report (src/report/schema.ts), validated with parseReport.
// `method` swaps the keep plan and the search for a baseline (baselines.ts) on the same calibration
// samples and budget; CKA and the segmentation are still computed and reported, for comparison.
//
// The pruned model is returned as a description plus a read-only view of the loaded tensors under the
// pruned model's names (export.ts turns it into files); the loaded parameters are never modified.

import { pruneModel } from '../arch/prune.js';
import type { ModelDescription } from '../arch/types.js';
import { type ClassifierMetrics, evaluateClassifier, type LabelledBatch } from '../eval/classify.js';
import type { Gpu } from '../gpu/device.js';
import { batchCount, imageBatches, type Normalize } from '../io/batches.js';
import type { ImageDataset } from '../io/dataset.js';
import { type ClassifierModel, createClassifier } from '../nn/model.js';
import type { ParamStore } from '../nn/params.js';
import { METHODS, type Method, parseReport, type Report, type ReportUnit } from '../report/schema.js';
import {
  CosineScores,
  checkBudget,
  chooseLast,
  chooseLowest,
  chooseRandom,
  RANDOM_STREAM,
  removableUnits,
} from './baselines.js';
import { calibrate } from './calibrate.js';
import {
  MAX_EXHAUSTIVE,
  planSearch,
  type SegmentImportance,
  type Select,
  searchSegment,
} from './candidates.js';
import type { Estimator } from './cka.js';
import { type FinetuneRequest, finetuneStage } from './finetune-stage.js';
import {
  disposeGradNormBatches,
  type GradNormBatch,
  ParamView,
  segmentScorer,
  sharingTotals,
  uploadGradNormBatches,
} from './importance.js';
import { type KeepRequest, planKeep } from './keep-plan.js';
import { DEFAULT_MAX_SEGMENTS, ELBOW_THRESHOLD, segmentCka } from './segment.js';

/** SGLP.md's default protocol for images. */
export const SGLP_DEFAULTS = {
  samples: 2500,
  batch: 500,
  gradnormBatches: 2,
  gradnormBatchSize: 64,
  evalBatch: 128,
  estimator: 'biased' as Estimator,
  select: 'min' as Select,
} as const;

export type PruneStage =
  | 'features'
  | 'cka'
  | 'segment'
  | 'importance'
  | 'eval-before'
  | 'eval-after'
  | 'finetune'
  | 'eval-finetuned';

export interface PruneProgress {
  readonly stage: PruneStage;
  /** Steps done and total in this stage (batches, or candidates for 'importance'). */
  readonly done: number;
  readonly total: number;
  /** e.g. `segment 2 of 5` during the search. */
  readonly detail?: string;
}

export interface PruneOptions {
  /** `--remove R` or `--keep-per-segment a,b,…` (baselines take `--remove` only). */
  readonly target: KeepRequest;
  /** `--method`: SGLP (default) or a baseline. */
  readonly method?: Method;
  /** `--seed`: the random baseline's seed (default 0). */
  readonly seed?: number;
  /** `--segments K`; default: the elbow rule. */
  readonly segments?: number;
  readonly select?: Select;
  /** Calibration samples (first N of the train split, file order) and batch size. */
  readonly samples?: number;
  readonly batch?: number;
  readonly estimator?: Estimator;
  /** GradNorm batches and their size (first G·S train samples, file order). */
  readonly gradnormBatches?: number;
  readonly gradnormBatchSize?: number;
  /** Segments with at most this many candidates are searched exhaustively, others greedily (default 2000). */
  readonly maxExhaustive?: number;
  /** Evaluate on the first N test samples only. */
  readonly evalLimit?: number;
  readonly evalBatch?: number;
  /** `--finetune-epochs E` (SGLP.md §5): fine-tune a copy of the pruned model, then evaluate it again. */
  readonly finetune?: FinetuneRequest;
  /**
   * The unpruned model's metrics on the same evaluation samples, when already measured (`sglp compare`
   * runs several methods on one model): the before-evaluation is then skipped.
   */
  readonly before?: ClassifierMetrics;
  /** For the report: the `--data` spec, the model directory read and the one written. */
  readonly dataSpec: string;
  readonly input: string;
  readonly output: string;
  readonly onProgress?: (p: PruneProgress) => void;
  readonly signal?: AbortSignal;
}

export interface PruneInputs {
  readonly gpu: Gpu;
  /** A cifar-resnet description and its loaded tensors (left unchanged). */
  readonly desc: ModelDescription;
  readonly params: ParamStore;
  readonly normalize: Normalize;
  readonly train: ImageDataset;
  readonly test: ImageDataset;
}

export interface PruneResult {
  readonly report: Report;
  /** The pruned architecture (config, description, keyMap old → new). */
  readonly pruned: ReturnType<typeof pruneModel>;
  /** The pruned model's tensors, by their new names, over the loaded tensors (read-only, no copies). */
  readonly view: ParamView;
  /** With options.finetune: the fine-tuned tensors under the pruned names (the caller disposes them). */
  readonly finetuned?: ParamStore;
}

function checkCount(name: string, v: number, min = 1): void {
  if (!Number.isSafeInteger(v) || v < min)
    throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
}

/** How many candidates searchSegment will score: all keep-sets, or every greedy step's trials. */
export function candidateCount(
  units: readonly number[],
  protectedUnits: readonly number[],
  keep: number,
  maxExhaustive = MAX_EXHAUSTIVE,
): number {
  const plan = planSearch(units, protectedUnits, keep, maxExhaustive);
  if (plan.search === 'exhaustive') return Number(plan.count);
  const prot = new Set(protectedUnits);
  const free = units.filter((u) => !prot.has(u)).length;
  let total = 0;
  for (let left = free, drop = units.length - keep; drop > 0; drop--, left--) total += left;
  return total;
}

/** Why a method cannot take this target, or undefined. */
export function methodTargetError(method: Method, target: KeepRequest): string | undefined {
  if (method === 'sglp' || 'remove' in target) return undefined;
  return (
    `--method ${method} takes --remove R, not --keep-per-segment: the baselines remove R units ` +
    'anywhere and have no segments to keep units in'
  );
}

function* labelled(ds: ImageDataset, normalize: Normalize, batchSize: number, limit?: number) {
  for (const b of imageBatches(ds, { batchSize, normalize, limit })) {
    yield { x: b.x, labels: b.y, n: b.size } satisfies LabelledBatch;
  }
}

interface SearchPlan {
  readonly segments: readonly (readonly [number, number])[];
  readonly keep: readonly number[];
  readonly protectedUnits: readonly number[];
  readonly gBatches: number;
  readonly gSize: number;
  readonly select: Select;
  readonly maxExhaustive: number;
}

/** GradNorm search (SGLP.md §4) in every segment that keeps fewer units than it has, in segment order. */
async function searchSegments(
  model: Pick<PruneInputs, 'gpu' | 'desc' | 'params' | 'normalize' | 'train'>,
  plan: SearchPlan,
  run: {
    passes: { forward: number; backward: number };
    signal?: AbortSignal;
    progress: (p: PruneProgress) => void;
  },
): Promise<SegmentImportance[]> {
  const { gpu, desc, params, normalize, train } = model;
  const { segments, keep: keepBySegment, protectedUnits, gBatches, gSize, select, maxExhaustive } = plan;
  const perSegment: SegmentImportance[] = [];
  const gBatchList: GradNormBatch[] = uploadGradNormBatches(gpu, desc, [
    ...imageBatches(train, { batchSize: gSize, normalize, limit: gBatches * gSize }),
  ]);
  try {
    const searched = segments
      .map((s, i) => ({ s, i, keep: keepBySegment[i] }))
      .filter(({ s, keep }) => keep < s[1] - s[0]);
    for (const [j, { s, i, keep }] of searched.entries()) {
      const segUnits = Array.from({ length: s[1] - s[0] }, (_, k) => s[0] + k);
      const score = segmentScorer(gpu, desc, params, [s[0], s[1]], gBatchList, {
        counters: run.passes,
        signal: run.signal,
      });
      let scored = 0;
      const total = candidateCount(segUnits, protectedUnits, keep, maxExhaustive);
      const detail =
        `segment ${i + 1} of ${segments.length} (units ${s[0]}–${s[1] - 1}, keep ${keep}; ` +
        `searched segment ${j + 1} of ${searched.length})`;
      const counted = async (set: readonly number[]) => {
        const v = await score(set);
        run.progress({ stage: 'importance', done: ++scored, total, detail });
        return v;
      };
      perSegment.push(await searchSegment(i, segUnits, protectedUnits, keep, counted, select, maxExhaustive));
    }
  } finally {
    disposeGradNormBatches(gBatchList);
  }
  return perSegment;
}

/** Runs SGLP on a loaded ResNet and returns the report, the pruned architecture and its tensors. */
export async function pruneSglp(inputs: PruneInputs, options: PruneOptions): Promise<PruneResult> {
  const { gpu, desc, params, normalize, train, test } = inputs;
  if (desc.architecture === 'llama') {
    throw new Error(
      'pruneSglp runs image classifiers; prune a decoder LM with pruneLlm (pipeline-llm.ts) on text windows',
    );
  }
  if (desc.architecture === 'vgg') {
    // A removed VGG conv can leave the next one re-initialised (SGLP.md §0): scoring and export do not
    // create such weights yet.
    throw new Error(`sglp prune: ${desc.name}: VGG is not supported yet (supported: cifar-resnet, resnet)`);
  }
  const samples = options.samples ?? SGLP_DEFAULTS.samples;
  const batch = options.batch ?? SGLP_DEFAULTS.batch;
  const gBatches = options.gradnormBatches ?? SGLP_DEFAULTS.gradnormBatches;
  const gSize = options.gradnormBatchSize ?? SGLP_DEFAULTS.gradnormBatchSize;
  const evalBatch = options.evalBatch ?? SGLP_DEFAULTS.evalBatch;
  const estimator = options.estimator ?? SGLP_DEFAULTS.estimator;
  const select = options.select ?? SGLP_DEFAULTS.select;
  const maxExhaustive = options.maxExhaustive ?? MAX_EXHAUSTIVE;
  const method = options.method ?? 'sglp';
  const seed = options.seed ?? 0;
  if (!METHODS.includes(method)) {
    throw new Error(`--method must be one of ${METHODS.join(', ')}, got "${method}"`);
  }
  if (!Number.isSafeInteger(seed)) throw new RangeError(`--seed must be an integer, got ${seed}`);
  const targetError = methodTargetError(method, options.target);
  if (targetError) throw new Error(targetError);
  const sglp = method === 'sglp';
  if (!sglp) checkBudget(method, (options.target as { remove: number }).remove, removableUnits(desc));
  checkCount('--samples', samples);
  checkCount('--batch', batch);
  checkCount('--gradnorm-batches', gBatches);
  checkCount('--gradnorm-batch-size', gSize);
  checkCount('eval batch', evalBatch);
  checkCount('--max-exhaustive', maxExhaustive);
  if (options.evalLimit !== undefined) checkCount('--eval-limit', options.evalLimit);
  if (select !== 'min' && select !== 'max') throw new Error(`--select must be min or max, got "${select}"`);
  if (samples > train.n) {
    throw new RangeError(`--samples ${samples}: ${train.name} has only ${train.n} samples`);
  }
  if (sglp && gBatches * gSize > train.n) {
    throw new RangeError(
      `--gradnorm-batches ${gBatches} x --gradnorm-batch-size ${gSize}: ${train.name} has only ${train.n} samples`,
    );
  }
  const signal = options.signal;
  const progress = options.onProgress ?? (() => {});
  const passes = { forward: 0, backward: 0 };
  const t0 = performance.now();
  const units = desc.units;
  const names = units.map((u) => u.name);
  const protectedUnits = units.filter((u) => u.protected).map((u) => u.index);
  const net = createClassifier(gpu, desc, params);

  // 1. Calibration features → CKA (every method: the report carries the matrix); the scored baselines
  // read the same representations in the same pass.
  const cosine =
    method === 'block-influence' || method === 'angular' ? new CosineScores(gpu, desc, params) : undefined;
  let calib: Awaited<ReturnType<typeof calibrate>>;
  try {
    calib = await calibrate(
      gpu,
      { desc, params, normalize, train },
      {
        samples,
        batch,
        estimator,
        net,
        signal,
        observers: cosine ? [cosine] : [],
        onProgress: (done, total) => progress({ stage: 'features', done, total }),
      },
    );
  } finally {
    cosine?.dispose();
  }
  const { cka, featuresMs, ckaMs } = calib;
  passes.forward += calib.forwardPasses;

  // 2. Segmentation of the row sums.
  const ts = performance.now();
  const seg = segmentCka(cka.matrix, { names, segments: options.segments });
  const segmentMs = performance.now() - ts;
  progress({ stage: 'segment', done: 1, total: 1 });

  // 3–4. SGLP: keep plan, then GradNorm search inside every segment that loses units. A baseline instead.
  const ti = performance.now();
  let perSegment: SegmentImportance[] = [];
  let removed: number[];
  let secondPass = false;
  let unitScores: Report['unitScores'];
  if (sglp) {
    const plan = planKeep(seg.segments, protectedUnits, options.target, { stem: desc.stem ?? null });
    secondPass = plan.secondPass;
    perSegment = await searchSegments(
      { gpu, desc, params, normalize, train },
      { segments: seg.segments, keep: plan.keep, protectedUnits, gBatches, gSize, select, maxExhaustive },
      { passes, signal, progress },
    );
    const keptSet = new Set<number>();
    seg.segments.forEach(([a, b], i) => {
      const best = perSegment.find((p) => p.segment === i);
      if (best) for (const u of best.best.units) keptSet.add(u);
      else for (let u = a; u < b; u++) keptSet.add(u);
    });
    removed = units.map((u) => u.index).filter((u) => !keptSet.has(u));
  } else {
    const R = (options.target as { remove: number }).remove;
    const removable = removableUnits(desc);
    if (method === 'random') removed = chooseRandom(removable, R, seed);
    else if (method === 'last') removed = chooseLast(removable, R);
    else {
      const scores = (cosine as CosineScores).scores(method);
      unitScores = { kind: method, scores };
      removed = chooseLowest(method, removable, scores, R);
    }
  }
  const importanceMs = performance.now() - ti;
  const removedSet = new Set(removed);
  const kept = units.map((u) => u.index).filter((u) => !removedSet.has(u));
  const pruned = pruneModel(desc, removed);
  const view = ParamView.ofPruned(params, pruned);

  // 5. Metrics before and after, eval mode on the test split.
  const te = performance.now();
  const evaluate = async (model: ClassifierModel, stage: PruneStage): Promise<ClassifierMetrics> => {
    const total = batchCount(test, { batchSize: evalBatch, normalize, limit: options.evalLimit });
    await model.freezeForEval();
    try {
      async function* counted() {
        for (const b of labelled(test, normalize, evalBatch, options.evalLimit)) {
          signal?.throwIfAborted();
          yield b;
          passes.forward++;
        }
      }
      return await evaluateClassifier(gpu, model, counted(), {
        onProgress: (p) => progress({ stage, done: p.batches, total }),
      });
    } finally {
      model.unfreeze();
    }
  };
  let before: ClassifierMetrics;
  if (options.before) {
    const n = Math.min(test.n, options.evalLimit ?? test.n);
    if (options.before.samples !== n) {
      throw new Error(`pruneSglp: options.before holds ${options.before.samples} samples, expected ${n}`);
    }
    before = options.before;
  } else {
    try {
      before = await evaluate(net, 'eval-before');
    } finally {
      net.unfreeze();
    }
  }
  const after = await evaluate(createClassifier(gpu, pruned.description, view.asStore()), 'eval-after');
  const evalMs = performance.now() - te;
  const tuned = options.finetune
    ? await finetuneStage(gpu, pruned.description, view, train, normalize, options.finetune, {
        evaluate: (m) => evaluate(m, 'eval-finetuned'),
        onProgress: progress,
        signal,
        counters: passes,
      })
    : undefined;

  const reportUnits: ReportUnit[] = units.map((u) => ({
    index: u.index,
    name: u.name,
    protected: u.protected,
    ...(u.protectedReason !== undefined ? { protectedReason: u.protectedReason } : {}),
    params: u.params,
    macs: u.macs,
  }));
  // Baselines do not read the GradNorm settings, so only what they use decides their preset.
  const isDefault =
    samples === SGLP_DEFAULTS.samples &&
    batch === SGLP_DEFAULTS.batch &&
    (!sglp ||
      (gBatches === SGLP_DEFAULTS.gradnormBatches &&
        gSize === SGLP_DEFAULTS.gradnormBatchSize &&
        maxExhaustive === MAX_EXHAUSTIVE)) &&
    options.evalLimit === undefined;
  const sampling = (n: number, size: number) => ({
    split: 'train' as const,
    samples: n,
    batchSize: size,
    batches: Math.ceil(n / size),
    shuffleSeed: null,
  });
  const kinds = new Set(perSegment.map((p) => p.search));
  const notes: string[] = [];
  if (!isDefault) {
    notes.push(
      `reduced protocol: ${samples} calibration samples in batches of ${batch}` +
        (sglp ? `, GradNorm on ${gBatches} batch(es) of ${gSize}` : '') +
        (sglp && maxExhaustive !== MAX_EXHAUSTIVE
          ? `, exhaustive search up to ${maxExhaustive} candidates`
          : '') +
        (options.evalLimit !== undefined
          ? `, evaluation on the first ${options.evalLimit} test samples`
          : ''),
    );
  }
  if (method === 'random') notes.push(`random baseline: seed ${seed} (mulberry32, stream ${RANDOM_STREAM})`);
  if (!sglp) notes.push('CKA and the segmentation are shown for comparison; this baseline does not use them');
  if (secondPass) notes.push("--remove needed the keep plan's second pass (segments down to one unit)");
  if (sglp && select === 'max')
    notes.push("--select max: the candidate with the highest GradNorm was kept (the authors' direction)");
  const report: Report = {
    version: 1,
    model: { name: desc.name, architecture: desc.architecture, input: options.input, output: options.output },
    units: reportUnits,
    protocol: {
      preset: isDefault ? 'default' : 'reduced',
      method,
      seed,
      data: { spec: options.dataSpec, seqLen: null },
      features: sampling(samples, batch),
      estimator,
      segmentation: {
        segments: options.segments ?? null,
        maxSegments: DEFAULT_MAX_SEGMENTS,
        elbowThreshold: ELBOW_THRESHOLD,
      },
      target: options.target,
      importance: sglp
        ? { score: 'gradnorm', select, samples: sampling(gBatches * gSize, gSize), maxExhaustive }
        : null,
      eval: { split: 'test', limit: options.evalLimit ?? null },
      finetune: tuned?.protocol ?? null,
    },
    cka: { estimator, batches: cka.batches, batchSize: cka.batchSize, matrix: cka.matrix },
    segmentation: {
      rowSums: seg.rowSums,
      lossByK: seg.lossByK,
      k: seg.k,
      kRule: seg.kRule,
      segments: seg.segments.map(([a, b]) => [a, b] as [number, number]),
    },
    ...(sglp
      ? {
          importance: {
            search: kinds.size === 2 ? 'mixed' : kinds.has('greedy') ? 'greedy' : 'exhaustive',
            perSegment: perSegment.map((p) => ({
              segment: p.segment,
              search: p.search,
              keep: p.keep,
              candidates: p.candidates.map((c) => ({ units: [...c.units], score: c.score })),
              best: { units: [...p.best.units], score: p.best.score },
            })),
            sharing: sharingTotals(passes),
          },
        }
      : {}),
    ...(unitScores ? { unitScores } : {}),
    kept,
    removed,
    metrics: {
      before: { accuracy: before.accuracy, loss: before.loss, samples: before.samples },
      after: { accuracy: after.accuracy, loss: after.loss, samples: after.samples },
      ...(tuned ? { afterFinetune: tuned.metrics } : {}),
    },
    size: {
      paramsBefore: desc.paramCount,
      paramsAfter: pruned.description.paramCount,
      macsBefore: desc.macs,
      macsAfter: pruned.description.macs,
    },
    timings: {
      featuresMs,
      ckaMs,
      segmentMs,
      importanceMs,
      evalMs: evalMs + (tuned?.evalMs ?? 0),
      finetuneMs: tuned?.trainMs ?? 0,
      totalMs: performance.now() - t0,
    },
    passes,
    device: {
      vendor: gpu.adapter.vendor,
      architecture: gpu.adapter.architecture,
      description: gpu.adapter.description,
    },
    notes,
  };
  try {
    return { report: parseReport(report, 'the prune report'), pruned, view, finetuned: tuned?.params };
  } catch (e) {
    tuned?.params.dispose();
    throw e;
  }
}
