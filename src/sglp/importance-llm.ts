// Candidate scoring for decoder LMs (docs/method.md §4, text): a candidate keep-set of one segment is scored
// on the pretrained model with only that segment pruned to the candidate (a ParamView over the loaded
// tensors, no copies), as the mean over the scoring batches of either the global L2 norm of d mean
// next-token NLL / d every parameter (GradNorm) or the mean next-token NLL itself (the loss score, forward
// only). There is no batch norm, so no train/eval distinction: the forward is the inference one.

import { type PrunedModel, pruneModel } from '../arch/prune.js';
import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import { Llama } from '../nn/llama.js';
import type { ParamStore } from '../nn/params.js';
import { gradNorm } from '../ops/reduce/grad-norm.js';
import type { ExactScorer } from './candidates.js';
import { ParamView } from './pruned-view.js';

/** One GradNorm batch: `batch` windows of `seq` token ids, window after window. */
export interface TextBatch {
  readonly ids: Int32Array;
  readonly batch: number;
  readonly seq: number;
}

/** The mean next-token NLL of `net` averaged over `batches` (f64 mean, batches in order), forward only. */
export async function llmLoss(
  net: Llama,
  batches: readonly TextBatch[],
  counters?: { forward: number },
): Promise<number> {
  if (batches.length === 0) throw new Error('loss score: no batches');
  let total = 0;
  for (const b of batches) {
    total += (await net.nextTokenLoss(b.ids, b.batch, b.seq)).nll;
    if (counters) counters.forward++;
  }
  return total / batches.length;
}

/** GradNorm of `net` averaged over `batches` (f64 mean, batches in order). */
export async function llmGradNorm(
  net: Llama,
  batches: readonly TextBatch[],
  counters?: { forward: number; backward: number },
): Promise<number> {
  if (batches.length === 0) throw new Error('GradNorm: no batches');
  let total = 0;
  for (const b of batches) {
    const r = await net.nextTokenLoss(b.ids, b.batch, b.seq, { grads: true });
    const grads = r.grads as NonNullable<typeof r.grads>;
    try {
      total += await gradNorm(net.gpu, [...grads.values()]);
    } finally {
      for (const g of grads.values()) g.dispose();
    }
    if (counters) {
      counters.forward++;
      counters.backward++;
    }
  }
  return total / batches.length;
}

/**
 * A Scorer of keep-sets of segment [start, end) of a decoder LM: units of the segment outside the keep-set
 * are removed, all others stay, and `score` rates the pruned model. Non-finite scores are an error naming
 * the candidate. Shared by the loaded scorer below and the streamed one (importance-llm-stream.ts).
 */
export function llmCandidateScorer(
  desc: ModelDescription,
  segment: readonly [number, number],
  score: (pruned: PrunedModel) => Promise<number>,
  signal?: AbortSignal,
): ExactScorer {
  const [start, end] = segment;
  return async (keepSet) => {
    signal?.throwIfAborted();
    const keep = new Set(keepSet);
    for (const u of keep) {
      if (u < start || u >= end) throw new Error(`GradNorm: unit ${u} is outside segment [${start}, ${end})`);
    }
    const removed: number[] = [];
    for (let u = start; u < end; u++) if (!keep.has(u)) removed.push(u);
    const value = await score(pruneModel(desc, removed));
    if (!Number.isFinite(value)) {
      throw new Error(`the score of ${desc.name} keeping units [${[...keepSet].join(', ')}] is ${value}`);
    }
    return value;
  };
}

/** Scores keep-sets of a segment on the loaded model (a ParamView over its tensors, no copies). */
export function llmSegmentScorer(
  gpu: Gpu,
  desc: ModelDescription,
  params: ParamStore,
  segment: readonly [number, number],
  batches: readonly TextBatch[],
  options: {
    counters?: { forward: number; backward: number };
    signal?: AbortSignal;
    /** Default 'gradnorm'. */
    score?: 'gradnorm' | 'loss';
  } = {},
): ExactScorer {
  return llmCandidateScorer(
    desc,
    segment,
    async (pruned) => {
      const view = ParamView.ofPruned(params, pruned);
      const net = new Llama(gpu, pruned.description, view.asStore());
      try {
        return options.score === 'loss'
          ? await llmLoss(net, batches, options.counters)
          : await llmGradNorm(net, batches, options.counters);
      } finally {
        net.dispose();
      }
    },
    options.signal,
  );
}
