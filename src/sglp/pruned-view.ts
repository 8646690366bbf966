// A pruned network over the loaded model's tensors, without copies: a ParamView renames the source's
// tensors to a pruned description's keys (and owns the fresh weights of re-initialised convs), and the
// helpers below build the view and the runnable network of a pruned model or of one search candidate.

import { ArchError } from '../arch/errors.js';
import { pruneModel } from '../arch/prune.js';
import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import { inverseKeyMap } from '../io/renamed-store.js';
import { type ClassifierModel, createClassifier } from '../nn/model.js';
import { isTrainable, type ParamStore } from '../nn/params.js';
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
