// The loss score for image classifiers (docs/method.md §4): a candidate keep-set of one segment is scored by
// the pruned network's mean cross-entropy on the scoring batches, forward only, BN in eval mode on the
// stored running statistics (what the pruned model will run with), lowest wins. The candidate network is a
// view over the loaded tensors (importance.ts prunedNetwork), as for GradNorm.

import { ArchError } from '../arch/errors.js';
import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { ClassifierModel } from '../nn/model.js';
import type { ParamStore } from '../nn/params.js';
import { softmaxCrossEntropy } from '../ops/cross-entropy.js';
import type { Scorer } from './candidates.js';
import { type GradNormBatch, prunedNetwork } from './importance.js';
import type { ReinitCache } from './reinit.js';

/** Mean over `batches` of the batch's mean cross-entropy, eval mode (f64 mean, batches in order). */
export async function networkLoss(
  gpu: Gpu,
  net: ClassifierModel,
  batches: readonly GradNormBatch[],
  counters?: { forward: number },
): Promise<number> {
  if (batches.length === 0) throw new Error('loss score: no batches');
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
}

/** The loss scorer of segment [start, end)'s keep-sets (all other segments intact). */
export function segmentLossScorer(
  gpu: Gpu,
  desc: ModelDescription,
  params: ParamStore,
  segment: readonly [number, number],
  batches: readonly GradNormBatch[],
  options: { counters?: { forward: number }; signal?: AbortSignal; reinitSeed?: number } = {},
): Scorer {
  const [start, end] = segment;
  const reinitCache: ReinitCache = new Map();
  return async (keepSet) => {
    options.signal?.throwIfAborted();
    const keep = new Set(keepSet);
    const removed: number[] = [];
    for (let u = start; u < end; u++) if (!keep.has(u)) removed.push(u);
    let built: ReturnType<typeof prunedNetwork>;
    try {
      built = prunedNetwork(gpu, desc, params, removed, options.reinitSeed, reinitCache);
    } catch (e) {
      if (!(e instanceof ArchError)) throw e;
      throw new ArchError(
        `loss score of units ${start} to ${end - 1}, candidate keeping [${keepSet.join(', ')}]: ` +
          `${e.message}; choose fewer removals (--remove) or other segments (--segments)`,
      );
    }
    try {
      return await networkLoss(gpu, built.net, batches, options.counters);
    } finally {
      built.view.dispose();
    }
  };
}
