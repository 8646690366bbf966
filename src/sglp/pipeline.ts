// The SGLP pipeline (docs/method.md §1–5), once for every model family (family.ts): calibration features →
// averaged CKA → Fisher segmentation → keep plan → the within-segment score (similarity ranking, or the loss
// or GradNorm search) → the pruned model → metrics before/after → the family's repair (batch-norm
// recalibration) → optional fine-tuning of a copy → the report (report/schema.ts), validated with
// parseReport. `method` swaps the keep plan and the search for a baseline (baselines.ts) on the same
// calibration samples; CKA and the segmentation are still computed and reported, for comparison.
//
// The pruned model is returned as a description plus a read-only view of the loaded tensors under the
// pruned names (export.ts turns it into files); the loaded parameters are never modified. Pure library code.

import { type PrunedModel, pruneModel } from '../arch/prune.js';
import type { ParamStore } from '../nn/params.js';
import { type CalibrationCache, calibrateAndSegment } from './calibration-stage.js';
import type { Select } from './candidates.js';
import type { Estimator } from './cka.js';
import type { FamilyHooks, ModelFamily } from './family.js';
import type { KeepRequest } from './keep-plan.js';
import type { ParamView } from './pruned-view.js';
import { type Method, parseReport, type Report, type Score } from './report/schema.js';
import { buildReport } from './report-build.js';
import {
  chooseRemoved,
  isDefaultProtocol,
  type PruneProgress,
  type PruneStage,
  resolveSettings,
  searchSegments,
} from './search-stage.js';

export { CalibrationCache } from './calibration-stage.js';
export { candidateCount, methodTargetError } from './search-stage.js';
export type { PruneProgress, PruneStage };

/** The options every family takes (families add their own: recalibration, precision, fine-tuning). */
export interface PipelineOptions<M> {
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
  /** `--score`: SGLP's within-segment score (default: the family's). */
  readonly score?: Score;
  /** Calibration samples (first N of the train split, file order; text: windows) and batch size. */
  readonly samples?: number;
  readonly batch?: number;
  readonly estimator?: Estimator;
  /** Scoring batches and their size (first G·S train samples, file order): GradNorm and the loss score. */
  readonly gradnormBatches?: number;
  readonly gradnormBatchSize?: number;
  /** Segments with at most this many candidates are searched exhaustively, others greedily (default 2000). */
  readonly maxExhaustive?: number;
  /** Evaluate on the first N test samples (text: windows) only. */
  readonly evalLimit?: number;
  readonly evalBatch?: number;
  /**
   * The unpruned model's metrics on the same evaluation samples, when already measured (`sglp compare`
   * runs several methods on one model): the before-evaluation is then skipped.
   */
  readonly before?: M;
  /** For the report: the `--data` spec, the model directory read and the one written. */
  readonly dataSpec: string;
  readonly input: string;
  readonly output: string;
  readonly onProgress?: (p: PruneProgress) => void;
  readonly signal?: AbortSignal;
  /** Calibration kept across runs on the same model and samples (search-stage.ts CalibrationCache). */
  readonly calibrationCache?: CalibrationCache;
}

export interface PipelineResult {
  readonly report: Report;
  /** The pruned architecture (config, description, keyMap old → new). */
  readonly pruned: PrunedModel;
  /**
   * The pruned model's tensors, by their new names, over the loaded tensors (read-only, no copies), plus
   * fresh ones the view owns (re-initialised convs, recalibrated BN statistics): dispose() frees those.
   * Absent when the family streams from the checkpoint (export from the checkpoint).
   */
  readonly view: ParamView | undefined;
  /** With fine-tuning: the fine-tuned tensors under the pruned names (the caller disposes them). */
  readonly finetuned?: ParamStore;
}

/** Runs SGLP (or a baseline) on `family`'s model and data; returns the report and the pruned model. */
export async function runPipeline<M>(
  family: ModelFamily<M>,
  options: PipelineOptions<M>,
): Promise<PipelineResult> {
  const { gpu, desc } = family;
  const settings = resolveSettings(options, family.defaults, desc);
  family.checkData(settings);
  const hooks: FamilyHooks = {
    progress: options.onProgress ?? (() => {}),
    signal: options.signal,
    passes: { forward: 0, backward: 0 },
  };
  const { progress, passes } = hooks;
  const t0 = performance.now();
  const units = desc.units;
  family.start();
  try {
    // 1–2. Calibration features → CKA, then the segmentation of the row sums.
    const { calib, cosine, seg, segmentMs } = await calibrateAndSegment(
      settings,
      family,
      options.segments,
      (observers) => family.calibrate(settings, observers, hooks),
      hooks,
      options.calibrationCache,
    );
    const { cka, featuresMs, ckaMs } = calib;

    // 3–4. SGLP: keep plan, then the score inside every segment that loses units. A baseline instead.
    const ti = performance.now();
    const search = async (keep: readonly number[]) => {
      const scorers = family.scorers(settings, hooks);
      try {
        return await searchSegments(seg.segments, keep, family.keepPlan.protectedUnits, scorers.segment, {
          select: settings.select,
          maxExhaustive: settings.maxExhaustive,
          score: settings.score,
          progress,
        });
      } finally {
        scorers.dispose();
      }
    };
    const { removed, perSegment, secondPass, unitScores } = await chooseRemoved(
      settings,
      desc,
      seg,
      options.target,
      family.keepPlan,
      cosine,
      search,
    );
    const importanceMs = performance.now() - ti;
    const removedSet = new Set(removed);
    const kept = units.map((u) => u.index).filter((u) => !removedSet.has(u));
    const pruned = pruneModel(desc, removed);
    let view = family.prunedView(pruned, settings);
    try {
      // 5. Metrics before and after on the test split.
      const te = performance.now();
      const before = options.before
        ? family.given(options.before, settings)
        : await family.evaluate(undefined, 'eval-before', settings, hooks);
      const after = await family.evaluate({ pruned, view }, 'eval-after', settings, hooks);
      let evalMs = performance.now() - te;
      // The repair (batch-norm recalibration); export and fine-tuning start from the repaired tensors.
      const repaired = view ? await family.repair({ pruned, view }, settings, hooks) : null;
      if (repaired) {
        view = repaired.view;
        evalMs += repaired.evalMs;
      }
      const tuned = await family.finetune({ pruned, view }, settings, hooks);
      // The fine-tuned store is the caller's only once this returns.
      try {
        const report = buildReport({
          gpu,
          desc,
          pruned: pruned.description,
          settings,
          isDefault:
            isDefaultProtocol(settings, family.defaults, options.evalLimit) && family.isDefault(settings),
          options,
          cka,
          seg,
          perSegment,
          unitScores,
          secondPass,
          kept,
          removed,
          reinit: pruned.reinit,
          metrics: {
            before: before.report,
            after: after.report,
            ...(repaired ? { recalibrated: repaired.measured.report } : {}),
            ...(tuned ? { afterFinetune: tuned.metrics } : {}),
          },
          finetune: tuned?.protocol ?? null,
          timings: {
            featuresMs,
            ckaMs,
            segmentMs,
            importanceMs,
            evalMs: evalMs + (tuned?.evalMs ?? 0),
            ...(repaired ? { recalibrateMs: repaired.repairMs } : {}),
            finetuneMs: tuned?.trainMs ?? 0,
          },
          t0,
          passes,
          ...family.reportFields(passes, settings),
        });
        return { report: parseReport(report, 'the prune report'), pruned, view, finetuned: tuned?.params };
      } catch (e) {
        tuned?.params.dispose();
        throw e;
      }
    } catch (e) {
      view?.dispose();
      throw e;
    }
  } finally {
    family.dispose();
  }
}
