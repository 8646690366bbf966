// The library's verbs on a loaded model of either family: cka, segment, prune, evaluate. Each takes a
// progress callback and an AbortSignal, and leaves the model's tensors unchanged. They drive the model's
// family (family.ts, src/sglp/family.ts) as `sglp prune` does.

import type { ClassifierMetrics } from '../eval/classify.js';
import type { PerplexityMetrics } from '../eval/perplexity.js';
import type { ImageDataset } from '../io/dataset.js';
import { checkCount } from '../io/option-error.js';
import type { TextWindows } from '../io/text-data.js';
import type { CkaResult, Estimator } from '../sglp/cka.js';
import type { FamilyHooks, ModelFamily } from '../sglp/family.js';
import {
  type PipelineOptions,
  type PipelineResult,
  type PruneProgress,
  runPipeline,
} from '../sglp/pipeline.js';
import { type Segmentation, type SegmentOptions, segmentCka } from '../sglp/segment.js';
import { type FamilyOptions, familyOf, type Split } from './family.js';
import type { AnyModel, ImageModel, LanguageModel, StreamedLanguageModel } from './model.js';

export type { ClassifierMetrics } from '../eval/classify.js';
export type { PerplexityMetrics } from '../eval/perplexity.js';
export type { CkaResult } from '../sglp/cka.js';
export type { PruneProgress } from '../sglp/pipeline.js';
export type { Segmentation } from '../sglp/segment.js';

/** The result of prune(): the report, the pruned architecture and its tensors (see exportModel). */
export type PruneResult = PipelineResult;

/** Progress of a long call: steps done of total in a stage. */
export interface Progress {
  readonly stage: string;
  readonly done: number;
  readonly total: number;
  readonly detail?: string;
}

export interface RunOptions {
  readonly onProgress?: (p: Progress) => void;
  /** Aborting it rejects the call with the signal's reason at the next batch. */
  readonly signal?: AbortSignal;
}

export interface CkaCallOptions extends RunOptions {
  /**
   * First N train samples (text: windows) in file order (default docs/method.md's 2,500 images or 16
   * windows, or all when fewer).
   */
  readonly samples?: number;
  /** Samples (text: windows) per CKA batch (default 500 images, 4 windows). */
  readonly batch?: number;
  readonly estimator?: Estimator;
}

const sizeOf = (data: Split) => ('seqLen' in data ? data.windows : data.n);

/** Runs `f` on the family between its start() and dispose(). */
async function within<F extends ModelFamily<unknown>, T>(
  family: F,
  f: (family: F) => Promise<T>,
): Promise<T> {
  family.start();
  try {
    return await f(family);
  } finally {
    family.dispose();
  }
}

function hooksOf(options: RunOptions, stage: string): FamilyHooks {
  return {
    progress: (p) => options.onProgress?.({ stage, done: p.done, total: p.total }),
    signal: options.signal,
    passes: { forward: 0, backward: 0 },
  };
}

/**
 * Linear CKA between every pair of units on the first `samples` train samples of `data` (docs/method.md
 * §1): images, or text windows (loadTextData's train split).
 */
export async function cka(model: AnyModel, data: Split, options: CkaCallOptions = {}): Promise<CkaResult> {
  const family = familyOf(model, { train: data, test: data }, {});
  const d = family.defaults;
  const settings = {
    samples: options.samples ?? Math.min(d.samples, sizeOf(data)),
    batch: options.batch ?? d.batch,
    estimator: options.estimator ?? d.estimator,
  };
  const hooks = hooksOf(options, 'cka');
  return within(family, async (f) => (await f.calibrate(settings, [], hooks)).cka);
}

/** Fisher segmentation of a CKA matrix's row sums (docs/method.md §2): `segments` K, or the elbow rule. */
export function segment(
  ckaResult: CkaResult | readonly (readonly number[])[],
  options: SegmentOptions = {},
): Segmentation {
  const matrix = 'matrix' in ckaResult ? ckaResult.matrix : ckaResult;
  const names = 'units' in ckaResult ? ckaResult.units : undefined;
  return segmentCka(matrix, { ...options, names });
}

/**
 * The pipeline's options (both families'), with the report's provenance fields optional (they default to
 * the model's and data's names): new pipeline options reach this call unchanged.
 */
export type PruneCallOptions = Omit<
  PipelineOptions<ClassifierMetrics | PerplexityMetrics>,
  'dataSpec' | 'input' | 'output' | 'onProgress'
> &
  Partial<Pick<PipelineOptions<unknown>, 'dataSpec' | 'input' | 'output'>> &
  FamilyOptions & {
    readonly onProgress?: (p: PruneProgress) => void;
  };

/**
 * The whole SGLP run (docs/method.md §1–5) on a loaded model and its train and test data (images, or
 * loadTextData's windows): report, pruned architecture and tensor view.
 */
export async function prune(
  model: AnyModel,
  data: { readonly train: Split; readonly test: Split },
  options: PruneCallOptions,
): Promise<PruneResult> {
  const family = familyOf(model, data, options);
  const full = {
    ...options,
    dataSpec: options.dataSpec ?? data.train.name.replace(/ train$/, ''),
    input: options.input ?? model.name,
    output: options.output ?? '(in memory)',
  };
  return runPipeline(family as ModelFamily<ClassifierMetrics | PerplexityMetrics>, full);
}

export interface EvaluateCallOptions extends RunOptions {
  /** The first N samples (text: windows) only. */
  readonly limit?: number;
  readonly batch?: number;
}

/**
 * Images: accuracy and mean cross-entropy in eval mode; text windows: perplexity (exp of the mean NLL of
 * every predicted token). Over `data` or its first `limit` samples.
 */
export function evaluate(
  model: ImageModel,
  data: ImageDataset,
  options?: EvaluateCallOptions,
): Promise<ClassifierMetrics>;
export function evaluate(
  model: LanguageModel | StreamedLanguageModel,
  data: TextWindows,
  options?: EvaluateCallOptions,
): Promise<PerplexityMetrics>;
export function evaluate(
  model: AnyModel,
  data: Split,
  options?: EvaluateCallOptions,
): Promise<ClassifierMetrics | PerplexityMetrics>;
export async function evaluate(
  model: AnyModel,
  data: Split,
  options: EvaluateCallOptions = {},
): Promise<ClassifierMetrics | PerplexityMetrics> {
  if (options.limit !== undefined) checkCount('limit', options.limit);
  const family = familyOf(model, { train: data, test: data }, { evalLimit: options.limit });
  const evalBatch = options.batch ?? family.defaults.evalBatch;
  checkCount('batch', evalBatch);
  const hooks = hooksOf(options, 'evaluate');
  return within(
    family,
    async (f) => (await f.evaluate(undefined, 'eval-before', { evalBatch }, hooks)).metrics,
  );
}
