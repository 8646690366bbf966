// The optional last stage of the LLM prune pipeline (docs/method.md §5, AdamW for LMs): fine-tune a copy of the
// pruned decoder LM on the train split's windows, evaluate its perplexity again, and give what the report
// records (protocol.finetune, metrics.afterFinetune, timings.finetuneMs). The pruned view is only read.

import type { PrunedModel } from '../arch/prune.js';
import type { PerplexityMetrics } from '../eval/perplexity.js';
import type { Gpu } from '../gpu/device.js';
import type { SafetensorsDtype } from '../io/dtypes.js';
import type { TextWindows } from '../io/text-data.js';
import { Llama } from '../nn/llama.js';
import type { ParamStore } from '../nn/params.js';
import type { TensorSource } from '../train/finetune.js';
import { finetuneLm, type LmFinetuneOptions } from '../train/finetune-lm.js';
import type { LmEpochRecord } from '../train/lm-loop.js';
import { type FinetuneProgressHooks, finetuneProgress } from './finetune-stage.js';
import type { Report } from './report/schema.js';
import { roundToSaved } from './round-params.js';

/** `--finetune-epochs E` (and `--finetune-samples N`) plus any overrides of src/tunables.ts's lmFinetune. */
export type LmFinetuneRequest = Omit<LmFinetuneOptions, 'signal' | 'onProgress'> & {
  /**
   * The dtype each tensor (by the pruned model's key) will be saved in: F16/BF16 ones are rounded before the
   * evaluation, so that afterFinetune is the written model's. Default: kept in f32.
   */
  readonly savedAs?: (pruned: PrunedModel) => ReadonlyMap<string, SafetensorsDtype>;
};

export interface LmFinetuneStageHooks extends FinetuneProgressHooks {
  /** Evaluates a model the way the pipeline evaluated before and after pruning. */
  readonly evaluate: (net: Llama) => Promise<PerplexityMetrics>;
}

export interface LmFinetuneStageResult {
  /** The fine-tuned tensors under the pruned model's keys; the caller disposes them. */
  readonly params: ParamStore;
  readonly protocol: NonNullable<Report['protocol']['finetune']>;
  /** After the last epoch. */
  readonly metrics: PerplexityMetrics;
  readonly history: LmEpochRecord[];
  readonly trainMs: number;
  readonly evalMs: number;
}

export async function finetuneLmStage(
  gpu: Gpu,
  pruned: PrunedModel,
  source: TensorSource,
  train: TextWindows,
  request: LmFinetuneRequest,
  hooks: LmFinetuneStageHooks,
): Promise<LmFinetuneStageResult> {
  const t0 = performance.now();
  const { savedAs, ...options } = request;
  const desc = pruned.description;
  const { params, history, settings } = await finetuneLm(gpu, desc, source, train, {
    ...options,
    signal: hooks.signal,
    onProgress: finetuneProgress(hooks, 'nll'),
  });
  const trainMs = performance.now() - t0;
  try {
    const t1 = performance.now();
    if (savedAs) await roundToSaved(params, savedAs(pruned));
    const net = new Llama(gpu, desc, params);
    let metrics: PerplexityMetrics;
    try {
      metrics = await hooks.evaluate(net);
    } finally {
      net.dispose();
    }
    return {
      params,
      protocol: { ...settings },
      metrics,
      history,
      trainMs,
      evalMs: performance.now() - t1,
    };
  } catch (e) {
    params.dispose();
    throw e;
  }
}
