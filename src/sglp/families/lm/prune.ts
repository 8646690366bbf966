// SGLP end to end on a LLaMA-family decoder LM, loaded (loaded.ts) or streamed layer by layer from its
// checkpoint (streamed.ts): the one pipeline (../../pipeline.ts) over the causal-LM family. Pure library code.

import type { PrunedModel } from '../../../arch/prune.js';
import type { PerplexityMetrics } from '../../../eval/perplexity.js';
import type { ParamStore } from '../../../nn/params.js';
import { type PipelineOptions, runPipeline } from '../../pipeline.js';
import type { ParamView } from '../../pruned-view.js';
import type { Report } from '../../report/schema.js';
import type { LmFamily, LmInputs } from './family.js';
import { LoadedLm, type LoadedLmOptions } from './loaded.js';
import { type LlmStreamInput, StreamedLm } from './streamed.js';

export { SGLP_TEXT_DEFAULTS } from './defaults.js';
export type { LlmStreamInput } from './streamed.js';

/** The pipeline's options for text: samples/batch/gradnorm sizes and fine-tuning samples count windows. */
export type LlmPruneOptions = PipelineOptions<PerplexityMetrics> & LoadedLmOptions;

export interface LlmPruneInputs extends LmInputs {
  /** The loaded tensors; or, instead, `stream`. */
  readonly params?: ParamStore;
  /**
   * Layer streaming (streamed.ts): every stage reads the decoder layers one at a time from the
   * checkpoint, so the model need not fit on the device. No fine-tuning.
   */
  readonly stream?: LlmStreamInput;
}

export interface LlmPruneResult {
  readonly report: Report;
  readonly pruned: PrunedModel;
  /** The pruned model over the loaded tensors; absent when streamed (export from the checkpoint). */
  readonly view?: ParamView;
  /** With options.finetune: the fine-tuned tensors under the pruned names (the caller disposes them). */
  readonly finetuned?: ParamStore;
}

/** The family of a decoder LM, loaded (`params`) or streamed (`stream`). */
export function lmFamily(inputs: LlmPruneInputs, options: LoadedLmOptions): LmFamily {
  const { params, stream } = inputs;
  if (!params === !stream) throw new Error('pruneLlm: give exactly one of params (loaded) and stream');
  return params
    ? new LoadedLm(inputs, params, options)
    : new StreamedLm(inputs, stream as LlmStreamInput, options);
}

/** Runs SGLP (or a baseline) on a decoder LM, loaded (`params`) or streamed (`stream`). */
export function pruneLlm(inputs: LlmPruneInputs, options: LlmPruneOptions): Promise<LlmPruneResult> {
  return runPipeline(lmFamily(inputs, options), options);
}
