// The optional last stage of the pipeline (docs/method.md §5), once for every family: fine-tune a copy of
// the pruned model on the train split (the family's trainer: SGD for classifiers, AdamW for LMs), evaluate
// it again, and give what the report records (protocol.finetune, metrics.afterFinetune,
// timings.finetuneMs). The pruned view over the loaded model is only read.

import type { ParamStore } from '../nn/params.js';
import type { LmLoopProgress } from '../train/lm-loop.js';
import type { LoopProgress } from '../train/loop.js';
import type { Report } from './report/schema.js';

/** What a fine-tuning stage reports to the pipeline. */
export interface FinetuneProgressHooks {
  readonly onProgress?: (p: { stage: 'finetune'; done: number; total: number; detail?: string }) => void;
  readonly signal?: AbortSignal;
  /** The report's pass counters: one forward and one backward per training step. */
  readonly counters?: { forward: number; backward: number };
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

/** How a family fine-tunes and evaluates: `N` is its runnable network, `M` its metrics. */
export interface FinetuneSteps<N, M> {
  /** Trains a copy of the pruned model; the settings are what the report records. */
  readonly train: () => Promise<{ params: ParamStore; settings: object }>;
  /** Before the evaluation, e.g. rounding to the dtypes the export saves. */
  readonly prepare?: (params: ParamStore) => Promise<void>;
  readonly network: (params: ParamStore) => N;
  /** Frees what network() made (the tensors are the caller's). */
  readonly release: (net: N) => void;
  /** Evaluates a model the way the pipeline evaluated before and after pruning. */
  readonly evaluate: (net: N) => Promise<M>;
}

export interface FinetuneStageResult<M> {
  /** The fine-tuned tensors under the pruned model's keys; the caller disposes them. */
  readonly params: ParamStore;
  readonly protocol: NonNullable<Report['protocol']['finetune']>;
  /** After the last epoch (no best-of-epochs pick). */
  readonly metrics: M;
  readonly trainMs: number;
  readonly evalMs: number;
}

export async function finetuneStage<N, M>(steps: FinetuneSteps<N, M>): Promise<FinetuneStageResult<M>> {
  const t0 = performance.now();
  const { params, settings } = await steps.train();
  const trainMs = performance.now() - t0;
  try {
    const t1 = performance.now();
    await steps.prepare?.(params);
    const net = steps.network(params);
    let metrics: M;
    try {
      metrics = await steps.evaluate(net);
    } finally {
      steps.release(net);
    }
    return {
      params,
      protocol: { ...settings } as FinetuneStageResult<M>['protocol'],
      metrics,
      trainMs,
      evalMs: performance.now() - t1,
    };
  } catch (e) {
    params.dispose();
    throw e;
  }
}
