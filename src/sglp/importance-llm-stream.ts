// GradNorm scoring of decoder-LM candidates with layer streaming (nn/llama-stream-grad.ts): the candidate
// (the pretrained model with one segment pruned to the keep-set) is read tensor by tensor from the input
// checkpoint under its original keys, so scoring needs about one layer's weights on the device instead of
// the model's. Same score as importance-llm.ts's llmSegmentScorer (the mean over batches of the global L2
// norm of d mean NLL / d every parameter), test/sglp/importance-llm-stream.test.ts.

import type { PrunedModel } from '../arch/prune.js';
import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import { inverseKeyMap, renamedStore } from '../io/renamed-store.js';
import type { TensorStore } from '../io/safetensors.js';
import { streamLlamaLoss } from '../nn/llama-stream-grad.js';
import type { ExactScorer } from './candidates.js';
import { llmCandidateScorer, type TextBatch } from './importance-llm.js';

export interface StreamedScoringOptions {
  readonly counters?: { forward: number; backward: number };
  readonly signal?: AbortSignal;
  /** Hold hidden states on the CPU between layers. */
  readonly hostStates?: boolean;
  /** Hears the device-memory peak of every scoring pass. */
  readonly onPeak?: (bytes: number) => void;
  /** Default 'gradnorm'; 'loss': the mean next-token NLL, forward only (importance-llm.ts llmLoss). */
  readonly score?: 'gradnorm' | 'loss';
}

/**
 * GradNorm (or with score 'loss' the mean NLL) of the model `desc` read from `store`, averaged over
 * `batches` (f64 mean, batches in order).
 */
export async function streamedGradNorm(
  gpu: Gpu,
  desc: ModelDescription,
  store: TensorStore,
  batches: readonly TextBatch[],
  options: StreamedScoringOptions = {},
): Promise<number> {
  const loss = options.score === 'loss';
  const r = await streamLlamaLoss(gpu, desc, store, batches, {
    grads: !loss,
    ...(options.hostStates ? { hostStates: true } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  options.onPeak?.(r.peakBytes);
  if (options.counters) {
    options.counters.forward += batches.length;
    if (!loss) options.counters.backward += batches.length;
  }
  let total = 0;
  for (const b of r.batches) total += loss ? b.nll : (b.gradNorm as number);
  return total / batches.length;
}

/** The checkpoint as the pruned model's tensors (renumbered keys), or as is for the unpruned model. */
export function prunedStore(store: TensorStore, pruned: PrunedModel | undefined): TensorStore {
  return pruned ? renamedStore(store, inverseKeyMap(pruned.keyMap)) : store;
}

/**
 * llmSegmentScorer for a checkpoint that is never loaded whole: keep-sets of segment [start, end) of the
 * model `desc` in `store` (the input checkpoint, original keys).
 */
export function streamedLlmSegmentScorer(
  gpu: Gpu,
  desc: ModelDescription,
  store: TensorStore,
  segment: readonly [number, number],
  batches: readonly TextBatch[],
  options: StreamedScoringOptions = {},
): ExactScorer {
  return llmCandidateScorer(
    desc,
    segment,
    (pruned) => {
      return streamedGradNorm(gpu, pruned.description, prunedStore(store, pruned), batches, options);
    },
    options.signal,
  );
}
