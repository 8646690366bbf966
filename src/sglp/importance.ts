// GradNorm importance (docs/method.md §4): a candidate keep-set of one segment is scored by the GradNorm of the
// pretrained network with only that segment pruned to the candidate. The candidate network is built with
// pruneModel + keyMap over the very tensors of the loaded model (a read-only view, no copies; a VGG conv
// whose input width changed gets seeded fresh weights, reinit.ts, alike in every candidate), run in train
// mode (batch statistics) with the BN running statistics left untouched, and its score is the mean over
// the GradNorm batches of √(Σ_p ‖∇_p mean CE‖²) over ALL its weights and biases.

import { ArchError } from '../arch/errors.js';
import { pruneModel } from '../arch/prune.js';
import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import { inverseKeyMap } from '../io/renamed-store.js';
import { type ClassifierModel, createClassifier } from '../nn/model.js';
import { isTrainable, type ParamStore } from '../nn/params.js';
import { CifarResnet } from '../nn/resnet.js';
import { softmaxCrossEntropy, uploadLabels } from '../ops/norm/cross-entropy.js';
import { gradNorm } from '../ops/reduce/grad-norm.js';
import { SharedSegmentScorer, type SharingStats } from './gradnorm-shared.js';
import { type ReinitCache, uploadReinit } from './reinit.js';

/**
 * The tensors of `source` seen under the key names of a pruned description (`newToOld` maps each new key
 * to the source's key), plus `fresh` tensors the view owns (a VGG's re-initialised convs, reinit.ts). It
 * only reads: write() is refused, and dispose() frees the fresh tensors and leaves the source's alone.
 * The nn/ models take it where they take a ParamStore (it only calls get/keys/version/desc).
 */
export class ParamView {
  private readonly map: ReadonlyMap<string, string>;
  /** Also set by replacing(), which hands the fresh tensors to the new view. */
  private disposed = false;

  constructor(
    readonly source: ParamStore,
    readonly desc: ModelDescription,
    newToOld: ReadonlyMap<string, string>,
    private readonly fresh: ReadonlyMap<string, Tensor> = new Map(),
  ) {
    for (const p of desc.params) {
      const old = newToOld.get(p.key);
      const own = fresh.get(p.key);
      if (old !== undefined && own !== undefined) {
        throw new Error(`${desc.name}: "${p.key}" is both carried over ("${old}") and re-initialised`);
      }
      if (old === undefined && own === undefined) {
        throw new Error(`${desc.name}: no source tensor for "${p.key}"`);
      }
      const t = own ?? source.get(old as string);
      if (t.size !== p.shape.reduce((a, d) => a * d, 1)) {
        throw new Error(`${desc.name}: "${p.key}" ← "${old}" has ${t.size} values, expected [${p.shape}]`);
      }
    }
    this.map = newToOld;
  }

  /** The view of `source` that a pruneModel result describes (its keyMap is old → new), owning `fresh`. */
  static ofPruned(
    source: ParamStore,
    pruned: { description: ModelDescription; keyMap: ReadonlyMap<string, string> },
    fresh?: ReadonlyMap<string, Tensor>,
  ) {
    return new ParamView(source, pruned.description, inverseKeyMap(pruned.keyMap), fresh);
  }

  get gpu(): Gpu {
    return this.source.gpu;
  }

  get version(): number {
    return this.source.version;
  }

  get(key: string): Tensor {
    const own = this.fresh.get(key);
    if (own !== undefined) {
      if (this.disposed) throw new Error(`${this.desc.name}: the view was disposed`);
      return own;
    }
    const old = this.map.get(key);
    if (old === undefined) throw new Error(`${this.desc.name} has no tensor "${key}"`);
    return this.source.get(old);
  }

  has(key: string): boolean {
    return (this.map.has(key) || this.fresh.has(key)) && this.desc.params.some((p) => p.key === key);
  }

  /** Keys of the tensors the view owns (re-initialised), not read from the source. */
  freshKeys(): string[] {
    return [...this.fresh.keys()];
  }

  keys(): string[] {
    return this.desc.params.map((p) => p.key);
  }

  trainableKeys(): string[] {
    return this.desc.params.filter(isTrainable).map((p) => p.key);
  }

  bufferKeys(): string[] {
    return this.desc.params.filter((p) => !isTrainable(p)).map((p) => p.key);
  }

  /** The source key of a key of this view. */
  sourceKey(key: string): string {
    const old = this.map.get(key);
    if (old === undefined) {
      const why = this.fresh.has(key) ? ' in its source (it is re-initialised)' : '';
      throw new Error(`${this.desc.name} has no tensor "${key}"${why}`);
    }
    return old;
  }

  async toArrays(keys: readonly string[] = this.keys()): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const k of keys) out[k] = await this.gpu.readF32(this.get(k));
    return out;
  }

  write(key: string): never {
    throw new Error(`${this.desc.name}: "${key}" is a read-only view of another model's tensors`);
  }

  /**
   * A view that reads `own` for its keys instead of the source (BN recalibration's running statistics)
   * and takes over this view's fresh tensors: dispose the new view, not this one, which becomes empty.
   */
  replacing(own: ReadonlyMap<string, Tensor>): ParamView {
    if (this.disposed) throw new Error(`${this.desc.name}: the view was disposed`);
    const map = new Map(this.map);
    const fresh = new Map(this.fresh);
    for (const [k, t] of own) {
      if (!this.has(k)) throw new Error(`${this.desc.name} has no tensor "${k}"`);
      map.delete(k);
      fresh.get(k)?.dispose();
      fresh.set(k, t);
    }
    const view = new ParamView(this.source, this.desc, map, fresh);
    this.disposed = true;
    return view;
  }

  /** Frees the fresh tensors; the source's belong to the source store. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.fresh.values()) t.dispose();
  }

  /** As the ParamStore type that the nn/ models take (same methods; ParamStore's constructor is private). */
  asStore(): ParamStore {
    return this as unknown as ParamStore;
  }
}

/**
 * The pruned model's tensors: the loaded ones under their new names (no copies), plus the fresh weights of
 * every conv it re-initialises (VGG; reinit.ts, seeded by `reinitSeed`, the prune `--seed`). Dispose the
 * view to free those.
 */
export function prunedView(
  gpu: Gpu,
  params: ParamStore,
  pruned: ReturnType<typeof pruneModel>,
  reinitSeed = 0,
  cache?: ReinitCache,
): ParamView {
  const fresh = uploadReinit(gpu, pruned.reinit, reinitSeed, cache);
  try {
    return ParamView.ofPruned(params, pruned, fresh);
  } catch (e) {
    for (const t of fresh.values()) t.dispose();
    throw e;
  }
}

/**
 * A network running a pruned description over the tensors of `params` (no copies), re-initialised convs
 * included (seeded by `reinitSeed`); dispose `view` when done with it.
 */
export function prunedNetwork(
  gpu: Gpu,
  desc: ModelDescription,
  params: ParamStore,
  removed: readonly number[],
  reinitSeed = 0,
  cache?: ReinitCache,
): { net: ClassifierModel; view: ParamView; pruned: ReturnType<typeof pruneModel> } {
  const pruned = pruneModel(desc, removed);
  const view = prunedView(gpu, params, pruned, reinitSeed, cache);
  return { net: createClassifier(gpu, pruned.description, view.asStore()), view, pruned };
}

/**
 * The network of one search candidate: segment [start, end) pruned to `keepSet`, everything else intact. A
 * VGG candidate can drop every conv of the classifier's input width: the search does not skip such
 * candidates (every one is scored and reported), so the run stops with the reason and the candidate.
 */
export function candidateNetwork(
  gpu: Gpu,
  desc: ModelDescription,
  params: ParamStore,
  segment: readonly [number, number],
  keepSet: readonly number[],
  o: { readonly search: string; readonly reinitSeed?: number; readonly cache?: ReinitCache },
): ReturnType<typeof prunedNetwork> {
  const [start, end] = segment;
  const keep = new Set(keepSet);
  const removed: number[] = [];
  for (let u = start; u < end; u++) if (!keep.has(u)) removed.push(u);
  try {
    return prunedNetwork(gpu, desc, params, removed, o.reinitSeed, o.cache);
  } catch (e) {
    if (!(e instanceof ArchError)) throw e;
    throw new ArchError(
      `${o.search} of units ${start} to ${end - 1}, candidate keeping [${keepSet.join(', ')}]: ` +
        `${e.message}; choose fewer removals (--remove) or other segments (--segments)`,
    );
  }
}

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
    t = { candidates: 0, unitForwards: 0, unitForwardsPlain: 0, unitBackwards: 0, readbacks: 0 };
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

/** A segment's scorer; `sharing` tells what the shared path saved (undefined on the plain path). */
export type SegmentScorer = ((keepSet: readonly number[]) => Promise<number>) & {
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
  const score = async (keepSet: readonly number[]) => {
    options.signal?.throwIfAborted();
    const before = { ...shared.stats };
    const value = await shared.score(keepSet);
    if (totals) for (const k of SHARING_KEYS) totals[k] += shared.stats[k] - before[k];
    return value;
  };
  return Object.assign(score, {
    sharing: shared.stats,
    dispose: () => shared.dispose(),
  });
}
