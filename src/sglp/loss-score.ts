// The loss score for image classifiers (docs/method.md §4): a candidate keep-set of one segment is scored by
// the pruned network's mean cross-entropy on the scoring batches, forward only, BN in eval mode on the
// stored running statistics (folded, as evaluation runs it), lowest wins. ResNets share the forward work
// candidates have in common (loss-shared.ts); other networks run a pruned network over a view of the loaded
// tensors per candidate (pruned-view.ts prunedNetwork), as GradNorm does.

import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import { type ClassifierModel, createClassifier } from '../nn/model.js';
import type { ParamStore } from '../nn/params.js';
import { CifarResnet } from '../nn/resnet.js';
import { softmaxCrossEntropy } from '../ops/norm/cross-entropy.js';
import type { ExactScorer } from './candidates.js';
import { type GradNormBatch, holdOnBatches } from './importance.js';
import { SharedLossScorer } from './loss-shared.js';
import { candidateNetwork } from './pruned-view.js';
import type { ReinitCache } from './reinit.js';

/** Mean over `batches` of the batch's mean cross-entropy, eval mode (f64 mean, batches in order). */
export async function networkLoss(
  gpu: Gpu,
  net: ClassifierModel,
  batches: readonly GradNormBatch[],
  counters?: { forward: number },
): Promise<number> {
  if (batches.length === 0) throw new Error('loss score: no batches');
  await net.freezeForEval();
  try {
    let sum = 0;
    for (const b of batches) {
      sum += await gpu.scope(async () => {
        const { logits } = await net.forward(b.x, { mode: 'eval' });
        if (counters) counters.forward++;
        const ce = softmaxCrossEntropy(gpu, logits, b.labels, { grad: false });
        return (await gpu.readF32(ce.loss))[0];
      });
    }
    return sum / batches.length;
  } finally {
    net.unfreeze();
  }
}

/** The loss scorer of segment [start, end)'s keep-sets (all other segments intact). */
export function segmentLossScorer(
  gpu: Gpu,
  desc: ModelDescription,
  params: ParamStore,
  segment: readonly [number, number],
  batches: readonly GradNormBatch[],
  options: {
    counters?: { forward: number };
    signal?: AbortSignal;
    reinitSeed?: number;
    /** Share the forward work (ResNets; default true). */
    share?: boolean;
  } = {},
): ExactScorer {
  if (options.share !== false && desc.net.family === 'resnet') {
    const net = createClassifier(gpu, desc, params);
    if (!(net instanceof CifarResnet)) throw new Error(`internal: ${desc.name} is not run by CifarResnet`);
    const shared = new SharedLossScorer(gpu, net, segment, batches, options.counters);
    holdOnBatches(batches, shared);
    return (keepSet) => {
      options.signal?.throwIfAborted();
      return shared.score(keepSet);
    };
  }
  const reinitCache: ReinitCache = new Map();
  return async (keepSet) => {
    options.signal?.throwIfAborted();
    const built = candidateNetwork(gpu, desc, params, segment, keepSet, {
      search: 'loss search',
      reinitSeed: options.reinitSeed,
      cache: reinitCache,
    });
    try {
      return await networkLoss(gpu, built.net, batches, options.counters);
    } finally {
      built.view.dispose();
    }
  };
}
