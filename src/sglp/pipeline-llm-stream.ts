// The streamed stages of pruneLlm (pipeline-llm.ts) for a checkpoint that is never loaded whole: each reads
// the decoder layers one at a time from the input checkpoint (nn/llama-stream*.ts), so that the whole prune
// needs about one layer's weights (or the embedding / LM head) on the device plus the activations of a batch.
// Calibration and GradNorm scoring live in calibrate-text-stream.ts and importance-llm-stream.ts; this adds
// perplexity of the unpruned and the pruned model, and the export of the pruned model's tensors.

import type { PrunedModel } from '../arch/prune.js';
import type { ModelDescription } from '../arch/types.js';
import type { PerplexityMetrics } from '../eval/perplexity.js';
import { evaluatePerplexityStreamed } from '../eval/perplexity-stream.js';
import type { Gpu } from '../gpu/device.js';
import type { TensorStore } from '../io/safetensors.js';
import type { TextWindows } from '../io/text-data.js';
import { prunedStore } from './importance-llm-stream.js';
import type { PruneProgress, PruneStage } from './search-stage.js';

/** `sglp prune --stream`: the input checkpoint, read one tensor at a time under its own keys. */
export interface LlmStreamInput {
  readonly store: TensorStore;
  /** Hold hidden states on the CPU between layers (less device memory, one readback per layer). */
  readonly hostStates?: boolean;
}

/** Perplexity of `desc` (or of `pruned`, a pruning of it) on `data`, streamed, with progress and passes. */
export async function streamedPerplexity(
  gpu: Gpu,
  desc: ModelDescription,
  input: LlmStreamInput,
  pruned: PrunedModel | undefined,
  data: TextWindows,
  o: {
    readonly batch: number;
    readonly stage: PruneStage;
    readonly progress: (p: PruneProgress) => void;
    readonly passes: { forward: number };
    readonly signal: AbortSignal | undefined;
  },
): Promise<PerplexityMetrics> {
  const total = Math.ceil(data.windows / o.batch);
  const r = await evaluatePerplexityStreamed(
    gpu,
    pruned ? pruned.description : desc,
    prunedStore(input.store, pruned),
    data,
    {
      batch: o.batch,
      ...(input.hostStates ? { hostStates: true } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      onProgress: (p) => o.progress({ stage: o.stage, done: Math.ceil(p.windows / o.batch), total }),
    },
  );
  o.passes.forward += total;
  return { perplexity: r.perplexity, nll: r.nll, tokens: r.tokens };
}
