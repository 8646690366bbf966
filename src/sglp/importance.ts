// GradNorm importance (docs/method.md §4): a candidate keep-set of one segment is scored by the GradNorm of the
// pretrained network with only that segment pruned to the candidate. The candidate network is built with
// pruneModel + keyMap over the very tensors of the loaded model (a read-only view, no copies; a VGG conv
// whose input width changed gets seeded fresh weights, reinit.ts, alike in every candidate), run in train
// mode (batch statistics) with the BN running statistics left untouched, and its score is the mean over
// the GradNorm batches of √(Σ_p ‖∇_p mean CE‖²) over ALL its weights and biases.

import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import type { ClassifierModel } from '../nn/model.js';
import { isTrainable, type ParamStore } from '../nn/params.js';
import { CifarResnet } from '../nn/resnet.js';
import { softmaxCrossEntropy, uploadLabels } from '../ops/norm/cross-entropy.js';
import { gradNorm } from '../ops/reduce/grad-norm.js';
import type { Scorer } from './candidates.js';
import { noSharing, SharedSegmentScorer, type SharingStats } from './gradnorm-shared.js';
import { candidateNetwork, prunedNetwork } from './pruned-view.js';
import type { ReinitCache } from './reinit.js';

/** One GradNorm batch, already on the device (kept across candidates). */
export interface GradNormBatch {
  readonly x: Tensor;
  readonly labels: Tensor;
  readonly n: number;
}

/** Uploads labelled batches once (they are reused for every candidate); dispose them when done. */
export function uploadGradNormBatches(
  gpu: Gpu,
  desc: ModelDescription,
  batches: readonly { x: Float32Array; y: Int32Array; size: number }[],
): GradNormBatch[] {
  const [c, h, w] = desc.input;
  return batches.map((b) => ({
    x: gpu.keep(gpu.tensor(b.x, [b.size, c, h, w])),
    labels: gpu.keep(uploadLabels(gpu, b.y, desc.numClasses)),
    n: b.size,
  }));
}

export function disposeGradNormBatches(batches: readonly GradNormBatch[]): void {
  for (const b of batches) {
    releaseScorers(b);
    b.x.dispose();
    b.labels.dispose();
  }
}

/** Shared-path scorers holding activations computed on a batch (freed with it, or by the next scorer). */
const scorersOf = new WeakMap<GradNormBatch, Set<{ dispose(): void }>>();

/**
 * Frees the activations earlier scorers hold on `batches`, then registers `scorer` as holding some: only one
 * segment's scorer (GradNorm or loss) keeps activations at a time, and disposeGradNormBatches frees them.
 */
export function holdOnBatches(batches: readonly GradNormBatch[], scorer: { dispose(): void }): void {
  for (const b of batches) releaseScorers(b);
  for (const b of batches) {
    const set = scorersOf.get(b) ?? new Set();
    scorersOf.set(b, set);
    set.add(scorer);
  }
}

function releaseScorers(batch: GradNormBatch): void {
  const set = scorersOf.get(batch);
  if (!set) return;
  for (const s of set) s.dispose();
  set.clear();
}

/**
 * GradNorm of one network: per batch, a train-mode forward pass (running statistics untouched), mean
 * cross-entropy, backward, the global L2 norm of every weight's and bias's gradient; the mean over batches.
 */
export async function networkGradNorm(
  gpu: Gpu,
  net: ClassifierModel,
  batches: readonly GradNormBatch[],
  counters?: { forward: number; backward: number },
): Promise<number> {
  if (batches.length === 0) throw new Error('GradNorm needs at least one batch');
  const keys = net.desc.params.filter(isTrainable).map((p) => p.key);
  let sum = 0;
  for (const b of batches) {
    sum += await gpu.scope(async () => {
      const { logits, saved } = await net.forward(b.x, { mode: 'train', updateRunningStats: false });
      if (counters) counters.forward++;
      const ce = softmaxCrossEntropy(gpu, logits, b.labels);
      if (!saved || !ce.dlogits) throw new Error('internal: no saved activations for backward');
      const grads = net.backward(saved, ce.dlogits);
      if (counters) counters.backward++;
      // Every tensor made here (gradients included) is freed when the scope ends.
      return gradNorm(
        gpu,
        keys.map((k) => {
          const g = grads.get(k);
          if (!g) throw new Error(`internal: backward gave no gradient for "${k}"`);
          return g;
        }),
      );
    });
  }
  return sum / batches.length;
}

const SHARING_KEYS = [
  'candidates',
  'unitForwards',
  'unitForwardsPlain',
  'unitBackwards',
  'unitBackwardsPlain',
  'stopped',
  'readbacks',
] as const satisfies readonly (keyof SharingStats)[];

const sharingByCounters = new WeakMap<object, SharingStats>();

/**
 * What the shared path saved, summed over every segmentScorer given these `counters` (so a caller that
 * already passes its pass counters can report it: `sharing: sharingTotals(passes)`); undefined if none.
 */
export function sharingTotals(counters: object): SharingStats | undefined {
  const t = sharingByCounters.get(counters);
  return t && { ...t };
}

function totalsFor(counters: object): SharingStats {
  let t = sharingByCounters.get(counters);
  if (!t) {
    t = noSharing();
    sharingByCounters.set(counters, t);
  }
  return t;
}

export interface SegmentScorerOptions {
  /**
   * Whole passes over one batch, counted as run: with sharing, the forward pass up to the segment counts
   * once per batch, and each candidate's forward from the segment start on counts once per batch.
   */
  readonly counters?: { forward: number; backward: number };
  readonly signal?: AbortSignal;
  /** Share the forward work the maths allows (default true; false: a whole pruned network per candidate). */
  readonly share?: boolean;
  /** Seeds the fresh weights of re-initialised convs (VGG; the prune `--seed`, default 0). */
  readonly reinitSeed?: number;
}

/**
 * A segment's scorer; `sharing` tells what the shared path saved (undefined on the plain path). The shared
 * path honours a Scorer's `bound` (stops a candidate that cannot win); the plain path always scores in full.
 */
export type SegmentScorer = {
  (keepSet: readonly number[]): Promise<number>;
  (keepSet: readonly number[], bound: number | undefined): ReturnType<Scorer>;
} & {
  readonly sharing: SharingStats | undefined;
  /** Frees cached activations (also done by disposeGradNormBatches or the batches' next scorer). */
  dispose(): void;
};

/**
 * The scorer of one segment's candidates: the GradNorm of the model with the segment's units outside the
 * keep-set removed (all other segments intact). By default it reuses the forward pass before the segment
 * and the forward through kept units that candidates share (gradnorm-shared.ts); scores are bit-identical
 * to scoring each pruned network on its own (share: false). Only one segment's scorer holds activations
 * at a time: making one releases the previous scorers of the same batches.
 */
export function segmentScorer(
  gpu: Gpu,
  desc: ModelDescription,
  params: ParamStore,
  segment: readonly [number, number],
  batches: readonly GradNormBatch[],
  options: SegmentScorerOptions = {},
): SegmentScorer {
  // The shared path (ResNets: nothing is re-initialised, the view owns nothing) keeps only the network.
  const network = (removed: readonly number[]) =>
    prunedNetwork(gpu, desc, params, removed, options.reinitSeed).net;
  const reinitCache: ReinitCache = new Map();
  // The shared path walks ResNet blocks; other networks are scored whole per candidate.
  if (options.share === false || desc.net.family !== 'resnet') {
    const plain = async (keepSet: readonly number[]) => {
      options.signal?.throwIfAborted();
      const { net, view } = candidateNetwork(gpu, desc, params, segment, keepSet, {
        search: 'GradNorm search',
        reinitSeed: options.reinitSeed,
        cache: reinitCache,
      });
      try {
        return await networkGradNorm(gpu, net, batches, options.counters);
      } finally {
        view.dispose();
      }
    };
    return Object.assign(plain, { sharing: undefined, dispose() {} });
  }
  const resnet = (removed: readonly number[]) => {
    const net = network(removed);
    if (!(net instanceof CifarResnet)) throw new Error(`internal: ${desc.name} is not run by CifarResnet`);
    return net;
  };
  const shared = new SharedSegmentScorer(gpu, desc, params, segment, resnet, batches, options.counters);
  holdOnBatches(batches, shared);
  const totals = options.counters && totalsFor(options.counters);
  function score(keepSet: readonly number[]): Promise<number>;
  function score(keepSet: readonly number[], bound: number | undefined): ReturnType<Scorer>;
  async function score(keepSet: readonly number[], bound?: number) {
    options.signal?.throwIfAborted();
    const before = { ...shared.stats };
    const value = await shared.score(keepSet, bound);
    if (totals) for (const k of SHARING_KEYS) totals[k] += shared.stats[k] - before[k];
    return value;
  }
  return Object.assign(score, {
    sharing: shared.stats,
    dispose: () => shared.dispose(),
  });
}
