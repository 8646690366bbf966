// SGLP end to end on a loaded image classifier (ResNets, CIFAR VGG-BN; docs/method.md §1–5), as pure
// library code (no fs): calibration features → averaged CKA → Fisher segmentation → keep plan → the
// within-segment score (GradNorm or loss search, or the similarity ranking) → the pruned model → metrics
// before/after → batch-norm recalibration and its metrics → the report (src/report/schema.ts), validated
// with parseReport.
// `method` swaps the keep plan and the search for a baseline (baselines.ts) on the same calibration
// samples and budget; CKA and the segmentation are still computed and reported, for comparison.
//
// The pruned model is returned as a description plus a read-only view of the loaded tensors under the
// pruned model's names (export.ts turns it into files); the loaded parameters are never modified. A VGG
// conv whose input width changed is re-initialised (docs/method.md §0) with seeded weights (reinit.ts): GradNorm
// scores each candidate with them, and the view of the kept set holds the same ones.

import { pruneModel } from '../arch/prune.js';
import type { ModelDescription } from '../arch/types.js';
import { type ClassifierMetrics, evaluateClassifier, type LabelledBatch } from '../eval/classify.js';
import type { Gpu } from '../gpu/device.js';
import { batchCount, imageBatches, type Normalize } from '../io/batches.js';
import type { ImageDataset } from '../io/dataset.js';
import { type ClassifierModel, createClassifier } from '../nn/model.js';
import type { ParamStore } from '../nn/params.js';
import { type Method, parseReport, type Report, type Score } from '../report/schema.js';
import { calibrate } from './calibrate.js';
import type { Select } from './candidates.js';
import type { Estimator } from './cka.js';
import { type FinetuneRequest, finetuneStage } from './finetune-stage.js';
import {
  disposeGradNormBatches,
  type ParamView,
  prunedView,
  segmentScorer,
  sharingTotals,
  uploadGradNormBatches,
} from './importance.js';
import type { KeepRequest } from './keep-plan.js';
import { segmentLossScorer } from './loss-score.js';
import { hasBatchNorm, recalibrateBatchNorm } from './recalibrate.js';
import { buildReport } from './report-build.js';
import {
  type CalibrationCache,
  calibrateAndSegment,
  chooseRemoved,
  isDefaultProtocol,
  type PruneProgress,
  type PruneStage,
  resolveSettings,
  searchSegments,
} from './search-stage.js';

export { CalibrationCache, candidateCount, methodTargetError } from './search-stage.js';
export type { PruneProgress, PruneStage };

/** The default protocol for images (docs/method.md). */
export const SGLP_DEFAULTS = {
  samples: 2500,
  batch: 500,
  gradnormBatches: 2,
  gradnormBatchSize: 64,
  evalBatch: 128,
  estimator: 'biased' as Estimator,
  select: 'min' as Select,
  /** The selection benchmark's winner for image classifiers (bench/RESULTS.md, "Selection benchmark"). */
  score: 'similarity' as Score,
  /** Batch-norm recalibration after pruning: the first N train images, in batches of recalibrateBatch. */
  recalibrate: 2048,
  recalibrateBatch: 128,
} as const;

export interface PruneOptions {
  /** `--remove R` or `--keep-per-segment a,b,…` (baselines take `--remove` only). */
  readonly target: KeepRequest;
  /** `--method`: SGLP (default) or a baseline. */
  readonly method?: Method;
  /**
   * `--seed` (default 0): the random baseline's seed, and the seed of the fresh weights of re-initialised
   * VGG convs (reinit.ts).
   */
  readonly seed?: number;
  /** `--segments K`; default: the elbow rule. */
  readonly segments?: number;
  readonly select?: Select;
  /** `--score`: SGLP's within-segment score (default SGLP_DEFAULTS.score). */
  readonly score?: Score;
  /** Calibration samples (first N of the train split, file order) and batch size. */
  readonly samples?: number;
  readonly batch?: number;
  readonly estimator?: Estimator;
  /**
   * Batch-norm recalibration of the pruned model on the first N train images (default 2048; 0: off).
   * Models without BN skip it.
   */
  readonly recalibrate?: number;
  /** Scoring batches and their size (first G·S train samples, file order): GradNorm and the loss score. */
  readonly gradnormBatches?: number;
  readonly gradnormBatchSize?: number;
  /** Segments with at most this many candidates are searched exhaustively, others greedily (default 2000). */
  readonly maxExhaustive?: number;
  /** Evaluate on the first N test samples only. */
  readonly evalLimit?: number;
  readonly evalBatch?: number;
  /** `--finetune-epochs E` (docs/method.md §5): fine-tune a copy of the pruned model, then evaluate it again. */
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
  /** Calibration kept across runs on the same model and samples (search-stage.ts CalibrationCache). */
  readonly calibrationCache?: CalibrationCache;
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
  /**
   * The pruned model's tensors, by their new names, over the loaded tensors (read-only, no copies), plus
   * the fresh weights of re-initialised convs (VGG), which view.dispose() frees.
   */
  readonly view: ParamView;
  /** With options.finetune: the fine-tuned tensors under the pruned names (the caller disposes them). */
  readonly finetuned?: ParamStore;
}

/** The report's metrics of an evaluation (only its fields, whatever else the object carries). */
const classification = (m: ClassifierMetrics) => ({ accuracy: m.accuracy, loss: m.loss, samples: m.samples });

function* labelled(ds: ImageDataset, normalize: Normalize, batchSize: number, limit?: number) {
  for (const b of imageBatches(ds, { batchSize, normalize, limit })) {
    yield { x: b.x, labels: b.y, n: b.size } satisfies LabelledBatch;
  }
}

/** Runs SGLP on a loaded ResNet and returns the report, the pruned architecture and its tensors. */
export async function pruneSglp(inputs: PruneInputs, options: PruneOptions): Promise<PruneResult> {
  const { gpu, desc, params, normalize, train, test } = inputs;
  if (desc.architecture === 'llama') {
    throw new Error(
      'pruneSglp runs image classifiers; prune a decoder LM with pruneLlm (pipeline-llm.ts) on text windows',
    );
  }
  const settings = resolveSettings(options, SGLP_DEFAULTS, desc);
  const { sglp, samples, batch, gBatches, gSize, evalBatch, estimator, select, maxExhaustive, score } =
    settings;
  // The default takes what a small data set has; an explicit count must be there.
  const recalibrate = options.recalibrate ?? Math.min(SGLP_DEFAULTS.recalibrate, train.n);
  if (!Number.isSafeInteger(recalibrate) || recalibrate < 0) {
    throw new RangeError(`--recalibrate must be a count of images >= 0, got ${recalibrate}`);
  }
  if (recalibrate > train.n) {
    throw new RangeError(`--recalibrate ${recalibrate}: ${train.name} has only ${train.n} samples`);
  }
  if (samples > train.n) {
    throw new RangeError(`--samples ${samples}: ${train.name} has only ${train.n} samples`);
  }
  if (sglp && score !== 'similarity' && gBatches * gSize > train.n) {
    throw new RangeError(
      `--gradnorm-batches ${gBatches} x --gradnorm-batch-size ${gSize}: ${train.name} has only ${train.n} samples`,
    );
  }
  const signal = options.signal;
  const progress = options.onProgress ?? (() => {});
  const passes = { forward: 0, backward: 0 };
  const t0 = performance.now();
  const units = desc.units;
  const protectedUnits = units.filter((u) => u.protected).map((u) => u.index);
  const net = createClassifier(gpu, desc, params);

  // 1–2. Calibration features → CKA, then the segmentation of the row sums.
  const { calib, cosine, seg, segmentMs } = await calibrateAndSegment(
    settings,
    inputs,
    options.segments,
    (observers) =>
      calibrate(
        gpu,
        { desc, params, normalize, train },
        {
          samples,
          batch,
          estimator,
          net,
          signal,
          observers,
          onProgress: (done, total) => progress({ stage: 'features', done, total }),
        },
      ),
    { progress, passes },
    options.calibrationCache,
  );
  const { cka, featuresMs, ckaMs } = calib;

  // 3–4. SGLP: keep plan, then GradNorm search inside every segment that loses units. A baseline instead.
  const ti = performance.now();
  const search = async (keep: readonly number[]) => {
    const gBatchList = uploadGradNormBatches(gpu, desc, [
      ...imageBatches(train, { batchSize: gSize, normalize, limit: gBatches * gSize }),
    ]);
    try {
      return await searchSegments(
        seg.segments,
        keep,
        protectedUnits,
        (s) => {
          const o = { counters: passes, signal, reinitSeed: settings.seed };
          return score === 'loss'
            ? segmentLossScorer(gpu, desc, params, [s[0], s[1]], gBatchList, o)
            : segmentScorer(gpu, desc, params, [s[0], s[1]], gBatchList, o);
        },
        { select, maxExhaustive, score, progress },
      );
    } finally {
      disposeGradNormBatches(gBatchList);
    }
  };
  const { removed, perSegment, secondPass, unitScores } = await chooseRemoved(
    settings,
    desc,
    seg,
    options.target,
    { protectedUnits, stem: desc.stem ?? null },
    cosine,
    search,
  );
  const importanceMs = performance.now() - ti;
  const removedSet = new Set(removed);
  const kept = units.map((u) => u.index).filter((u) => !removedSet.has(u));
  const pruned = pruneModel(desc, removed);
  // Re-initialised convs (VGG) get the very weights their candidate was scored with (same seed, reinit.ts).
  let view = prunedView(gpu, params, pruned, settings.seed);
  try {
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
    let evalMs = performance.now() - te;
    // The repair: BN statistics re-estimated for the pruned network; export and fine-tuning start from it.
    const recalibration =
      recalibrate > 0 && hasBatchNorm(view)
        ? { images: recalibrate, batch: SGLP_DEFAULTS.recalibrateBatch }
        : null;
    let recalibrated: ClassifierMetrics | undefined;
    let recalibrateMs: number | undefined;
    if (recalibration) {
      const tr = performance.now();
      view = await recalibrateBatchNorm(gpu, view, train, normalize, {
        ...recalibration,
        signal,
        counters: passes,
        onProgress: (done, total) => progress({ stage: 'recalibrate', done, total }),
      });
      recalibrateMs = performance.now() - tr;
      const tv = performance.now();
      recalibrated = await evaluate(
        createClassifier(gpu, pruned.description, view.asStore()),
        'eval-recalibrated',
      );
      evalMs += performance.now() - tv;
    }
    const tuned = options.finetune
      ? await finetuneStage(gpu, pruned.description, view, train, normalize, options.finetune, {
          evaluate: (m) => evaluate(m, 'eval-finetuned'),
          onProgress: progress,
          signal,
          counters: passes,
        })
      : undefined;

    // The fine-tuned store is the caller's only once this returns.
    try {
      const report = buildReport({
        gpu,
        desc,
        pruned: pruned.description,
        settings,
        isDefault:
          isDefaultProtocol(settings, SGLP_DEFAULTS, options.evalLimit) &&
          (recalibrate === SGLP_DEFAULTS.recalibrate || recalibration === null),
        options,
        seqLen: null,
        wording: { calibration: 'samples', gradnormSuffix: '', eval: 'samples' },
        cka,
        seg,
        perSegment,
        sharing: sglp ? sharingTotals(passes) : undefined,
        unitScores,
        secondPass,
        kept,
        removed,
        reinit: pruned.reinit,
        metrics: {
          before: classification(before),
          after: classification(after),
          ...(recalibrated ? { recalibrated: classification(recalibrated) } : {}),
          ...(tuned ? { afterFinetune: tuned.metrics } : {}),
        },
        finetune: tuned?.protocol ?? null,
        recalibration,
        timings: {
          featuresMs,
          ckaMs,
          segmentMs,
          importanceMs,
          evalMs: evalMs + (tuned?.evalMs ?? 0),
          ...(recalibrateMs !== undefined ? { recalibrateMs } : {}),
          finetuneMs: tuned?.trainMs ?? 0,
        },
        t0,
        passes,
      });
      return { report: parseReport(report, 'the prune report'), pruned, view, finetuned: tuned?.params };
    } catch (e) {
      tuned?.params.dispose();
      throw e;
    }
  } catch (e) {
    view.dispose();
    throw e;
  }
}
