// The optional last stage of the prune pipeline (docs/method.md §5): fine-tune a copy of the pruned model on the
// train split, evaluate it again, and give what the report records (protocol.finetune,
// metrics.afterFinetune, timings.finetuneMs). The pruned view over the loaded model is only read.

import type { ModelDescription } from '../arch/types.js';
import type { ClassifierMetrics } from '../eval/classify.js';
import type { Gpu } from '../gpu/device.js';
import type { Normalize } from '../io/batches.js';
import type { ImageDataset } from '../io/dataset.js';
import { type ClassifierModel, createClassifier } from '../nn/model.js';
import type { ParamStore } from '../nn/params.js';
import { type FinetuneOptions, finetune, type TensorSource } from '../train/finetune.js';
import type { LmLoopProgress } from '../train/lm-loop.js';
import type { LoopEpochRecord, LoopProgress } from '../train/loop.js';
import type { Report } from './report/schema.js';

/** `--finetune-epochs E` and any overrides of docs/method.md §5's defaults. */
export type FinetuneRequest = Omit<FinetuneOptions, 'signal' | 'onProgress' | 'onEpoch'>;

/** What both fine-tuning stages (images, and LMs in finetune-lm-stage.ts) report to the pipeline. */
export interface FinetuneProgressHooks {
  readonly onProgress?: (p: { stage: 'finetune'; done: number; total: number; detail?: string }) => void;
  readonly signal?: AbortSignal;
  /** The report's pass counters: one forward and one backward per training step. */
  readonly counters?: { forward: number; backward: number };
}

export interface FinetuneStageHooks extends FinetuneProgressHooks {
  /** Evaluates a model the way the pipeline evaluated before and after pruning. */
  readonly evaluate: (net: ClassifierModel) => Promise<ClassifierMetrics>;
}

/** A trainer's step events as the pipeline's 'finetune' progress, counting the passes. */
export function finetuneProgress(hooks: FinetuneProgressHooks, lossName: string) {
  return (p: LoopProgress | LmLoopProgress): void => {
    if (p.type !== 'step') return;
    if (hooks.counters) {
      hooks.counters.forward++;
      hooks.counters.backward++;
    }
    hooks.onProgress?.({
      stage: 'finetune',
      done: (p.epoch - 1) * p.steps + p.step,
      total: p.epochs * p.steps,
      detail: `epoch ${p.epoch}/${p.epochs}, train ${lossName} ${p.loss.toFixed(4)}`,
    });
  };
}

export interface FinetuneStageResult {
  /** The fine-tuned tensors under the pruned model's keys; the caller disposes them. */
  readonly params: ParamStore;
  readonly protocol: NonNullable<Report['protocol']['finetune']>;
  /** After the last epoch (no best-of-epochs pick). */
  readonly metrics: { accuracy: number; loss: number; samples: number };
  readonly history: LoopEpochRecord[];
  readonly trainMs: number;
  readonly evalMs: number;
}

export async function finetuneStage(
  gpu: Gpu,
  desc: ModelDescription,
  source: TensorSource,
  train: ImageDataset,
  normalize: Normalize,
  request: FinetuneRequest,
  hooks: FinetuneStageHooks,
): Promise<FinetuneStageResult> {
  const t0 = performance.now();
  const { params, history, settings } = await finetune(gpu, desc, source, train, normalize, {
    ...request,
    signal: hooks.signal,
    onProgress: finetuneProgress(hooks, 'loss'),
  });
  const trainMs = performance.now() - t0;
  try {
    const t1 = performance.now();
    const net = createClassifier(gpu, desc, params);
    let m: ClassifierMetrics;
    try {
      m = await hooks.evaluate(net);
    } finally {
      net.unfreeze();
    }
    return {
      params,
      protocol: { ...settings },
      metrics: { accuracy: m.accuracy, loss: m.loss, samples: m.samples },
      history,
      trainMs,
      evalMs: performance.now() - t1,
    };
  } catch (e) {
    params.dispose();
    throw e;
  }
}
