// The model-family interface (docs/architecture.md, "Model families"): what the one SGLP pipeline
// (pipeline.ts) asks of a model and its data. An image classifier (families/image/) and a causal LM
// (families/lm/, loaded or streamed layer by layer) implement it; the pipeline itself never looks at the
// architecture. A new family (a ViT, an encoder LM) is one new folder implementing this, plus its nn/ and
// arch/ files.

import type { PrunedModel } from '../arch/prune.js';
import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { ParamStore } from '../nn/params.js';
import type { CosineScores } from './baselines.js';
import type { CalibrationResult } from './calibrate.js';
import type { Scorer } from './candidates.js';
import type { ParamView } from './pruned-view.js';
import type { EvalMetrics } from './report/schema.js';
import type { ReportInputs } from './report-build.js';
import type { ProtocolDefaults, PruneProgress, PruneSettings, PruneStage } from './search-stage.js';

/** What a run shares with the family's stages: progress, the abort signal, the report's pass counters. */
export interface FamilyHooks {
  readonly progress: (p: PruneProgress) => void;
  readonly signal: AbortSignal | undefined;
  readonly passes: { forward: number; backward: number };
}

/** What calibration reads of the settings (`sglp cka` runs it alone). */
export type CalibrationSettings = Pick<PruneSettings, 'samples' | 'batch' | 'estimator'>;
/** What evaluation reads of the settings (`sglp eval` runs it alone). */
export type EvalSettings = Pick<PruneSettings, 'evalBatch'>;

/** The pruned model a stage runs: its architecture and, when on the device, its tensors. */
export interface PrunedTarget {
  readonly pruned: PrunedModel;
  /** The pruned model's tensors over the loaded ones; absent when the family streams from the checkpoint. */
  readonly view: ParamView | undefined;
}

/** A stage's metrics as the family measured them (M) and as the report records them. */
export interface Measured<M> {
  readonly metrics: M;
  readonly report: EvalMetrics;
}

/** The result of a repair step (batch-norm recalibration): the repaired view replaces the pruned one. */
export interface Repair<M> {
  readonly view: ParamView;
  readonly measured: Measured<M>;
  readonly repairMs: number;
  readonly evalMs: number;
}

/** The result of the fine-tuning stage on a copy of the pruned model (docs/method.md §5). */
export interface Finetuned {
  /** The fine-tuned tensors under the pruned names; the caller disposes them. */
  readonly params: ParamStore;
  readonly protocol: NonNullable<ReportInputs['finetune']>;
  readonly metrics: EvalMetrics;
  readonly trainMs: number;
  readonly evalMs: number;
}

/** The report's fields that depend on the family (units of the data, repair, precision, memory). */
export type FamilyReportFields = Pick<
  ReportInputs,
  'seqLen' | 'wording' | 'recalibration' | 'precision' | 'saveDtype' | 'memory' | 'sharing'
>;

/**
 * One model of a family and its data, ready for the pipeline (families/image/family.ts,
 * families/lm/family.ts). Options that only this family has (batch-norm recalibration, precision, save
 * dtype, streaming) were given to its constructor; the pipeline passes the settings every family shares.
 */
export interface ModelFamily<M> {
  readonly gpu: Gpu;
  readonly desc: ModelDescription;
  /** The loaded tensors (block-influence observers read them); absent when streamed. */
  readonly params: ParamStore | undefined;
  /** docs/method.md's default protocol for this family. */
  readonly defaults: ProtocolDefaults;
  /** The keep plan's protected units and stem (docs/method.md §3). */
  readonly keepPlan: { readonly protectedUnits: readonly number[]; readonly stem: number | null };
  /** Checks the settings against the data (counts of samples or windows); errors name the option. */
  checkData(s: PruneSettings): void;
  /** Called once before the stages (e.g. builds the runnable network); `dispose` undoes it. */
  start(): void;
  dispose(): void;
  /** Stage 1: calibration features → averaged CKA, with `observers` reading the same representations. */
  calibrate(
    s: CalibrationSettings,
    observers: CosineScores[],
    hooks: FamilyHooks,
  ): Promise<CalibrationResult>;
  /**
   * Stage 4's scorers (`--score loss|gradnorm`): `segment(s)` scores one segment's keep-sets; `dispose`
   * frees what the scorers share (uploaded batches).
   */
  scorers(
    s: PruneSettings,
    hooks: FamilyHooks,
  ): { segment(s: readonly [number, number]): Scorer; dispose(): void };
  /** The pruned model's tensors on the device (a view over the loaded ones), or undefined when streamed. */
  prunedView(pruned: PrunedModel, s: PruneSettings): ParamView | undefined;
  /** Metrics on the evaluation split of the unpruned model (`target` undefined) or of a pruned one. */
  evaluate(
    target: PrunedTarget | undefined,
    stage: PruneStage,
    s: EvalSettings,
    hooks: FamilyHooks,
  ): Promise<Measured<M>>;
  /** Metrics of the unpruned model measured elsewhere (`sglp compare`), checked against this run's data. */
  given(before: M, s: PruneSettings): Measured<M>;
  /** The repair after pruning (images: batch-norm recalibration), or null when it does not apply. */
  repair(
    target: PrunedTarget & { readonly view: ParamView },
    s: PruneSettings,
    hooks: FamilyHooks,
  ): Promise<Repair<M> | null>;
  /** Fine-tuning of a copy when the family's options ask for it, else undefined. */
  finetune(target: PrunedTarget, s: PruneSettings, hooks: FamilyHooks): Promise<Finetuned | undefined>;
  /** Whether the family-specific settings are the default protocol (with the shared ones already so). */
  isDefault(s: PruneSettings): boolean;
  /** The report's family-specific fields, read after every stage ran. */
  reportFields(passes: { forward: number; backward: number }, s: PruneSettings): FamilyReportFields;
}
