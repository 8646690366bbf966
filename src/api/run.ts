// The library's verbs on a loaded model: cka, segment, prune, evaluate. Each takes a progress callback
// and an AbortSignal, and leaves the model's tensors unchanged.

import type { ClassifierMetrics, LabelledBatch } from '../eval/classify.js';
import { evaluateClassifier } from '../eval/classify.js';
import { batchCount, imageBatches } from '../io/batches.js';
import type { ImageDataset } from '../io/dataset.js';
import { CALIBRATION_DEFAULTS, calibrate } from '../sglp/calibrate.js';
import type { CkaResult, Estimator } from '../sglp/cka.js';
import {
  type PruneOptions,
  type PruneResult,
  pruneSglp,
  SGLP_DEFAULTS,
} from '../sglp/families/image/prune.js';
import type { PruneProgress } from '../sglp/pipeline.js';
import { type Segmentation, type SegmentOptions, segmentCka } from '../sglp/segment.js';
import { checkFits } from './data.js';
import { type Model, networkOf } from './model.js';

export type { ClassifierMetrics } from '../eval/classify.js';
export type { CkaResult } from '../sglp/cka.js';
export type { PruneResult } from '../sglp/families/image/prune.js';
export type { PruneProgress } from '../sglp/pipeline.js';
export type { Segmentation } from '../sglp/segment.js';

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
  /** First N train samples in file order (default docs/method.md's 2,500, or all when fewer). */
  readonly samples?: number;
  /** Rows per CKA batch (default 500). */
  readonly batch?: number;
  readonly estimator?: Estimator;
}

function checkCount(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be an integer >= 1, got ${v}`);
}

function labelled(
  ds: ImageDataset,
  model: Model,
  batchSize: number,
  limit?: number,
): Generator<LabelledBatch> {
  return (function* () {
    for (const b of imageBatches(ds, { batchSize, normalize: model.normalize, limit })) {
      yield { x: b.x, labels: b.y, n: b.size };
    }
  })();
}

/** Linear CKA between every pair of units on the first `samples` images of `data` (docs/method.md §1). */
export async function cka(
  model: Model,
  data: ImageDataset,
  options: CkaCallOptions = {},
): Promise<CkaResult> {
  checkFits(data, model.desc.input, model.desc.numClasses, model.name);
  const { desc, params, normalize } = model;
  const { cka: result } = await calibrate(
    model.gpu,
    { desc, params, normalize, train: data },
    {
      samples: options.samples ?? Math.min(CALIBRATION_DEFAULTS.samples, data.n),
      batch: options.batch,
      estimator: options.estimator,
      signal: options.signal,
      onProgress: (done, total) => options.onProgress?.({ stage: 'cka', done, total }),
    },
  );
  return result;
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
 * `pruneSglp`'s options, with the report's provenance fields optional (they default to the model's and
 * data's names): new pipeline options reach this call unchanged.
 */
export type PruneCallOptions = Omit<PruneOptions, 'dataSpec' | 'input' | 'output' | 'onProgress'> &
  Partial<Pick<PruneOptions, 'dataSpec' | 'input' | 'output'>> & {
    readonly onProgress?: (p: PruneProgress) => void;
  };

/** The whole SGLP run (docs/method.md §1–5) on a loaded model: report, pruned architecture and tensor view. */
export async function prune(
  model: Model,
  data: { readonly train: ImageDataset; readonly test: ImageDataset },
  options: PruneCallOptions,
): Promise<PruneResult> {
  checkFits(data.train, model.desc.input, model.desc.numClasses, model.name);
  checkFits(data.test, model.desc.input, model.desc.numClasses, model.name);
  const { gpu, desc, params, normalize } = model;
  const full: PruneOptions = {
    ...options,
    dataSpec: options.dataSpec ?? data.train.name.replace(/ train$/, ''),
    input: options.input ?? model.name,
    output: options.output ?? '(in memory)',
  };
  return pruneSglp({ gpu, desc, params, normalize, train: data.train, test: data.test }, full);
}

export interface EvaluateCallOptions extends RunOptions {
  /** The first N samples only. */
  readonly limit?: number;
  readonly batch?: number;
}

/** Accuracy and mean cross-entropy in eval mode over `data` (or its first `limit` samples). */
export async function evaluate(
  model: Model,
  data: ImageDataset,
  options: EvaluateCallOptions = {},
): Promise<ClassifierMetrics> {
  const batch = options.batch ?? SGLP_DEFAULTS.evalBatch;
  checkCount('batch', batch);
  if (options.limit !== undefined) checkCount('limit', options.limit);
  checkFits(data, model.desc.input, model.desc.numClasses, model.name);
  const net = networkOf(model);
  const total = batchCount(data, { batchSize: batch, normalize: model.normalize, limit: options.limit });
  const signal = options.signal;
  async function* batches() {
    for (const b of labelled(data, model, batch, options.limit)) {
      signal?.throwIfAborted();
      yield b;
    }
  }
  try {
    await net.freezeForEval();
    return await evaluateClassifier(model.gpu, net, batches(), {
      onProgress: (p) => options.onProgress?.({ stage: 'evaluate', done: p.batches, total }),
    });
  } finally {
    net.unfreeze();
  }
}
