// GradNorm of one segment's candidates with the work the maths lets them share (docs/method.md §4). Every
// candidate runs the same network up to the segment start, so that train-mode forward runs once per
// GradNorm batch and its saved activations are reused (never consumed) by every candidate's backward.
// Inside the segment a candidate's forward depends only on the kept units before the current one, so the
// blocks along the candidate's kept path form a trie: a stack holds the last candidate's path, and the next
// candidate recomputes only past the longest common prefix (lexicographic order, the exhaustive search's,
// makes neighbours share all but their last units). What follows the segment, the head and the whole
// backward are per candidate. Scores are bit-identical to the plain path (networkGradNorm over a pruned
// network): the same kernels see the same inputs and the per-tensor squares are summed in the same order.

import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import type { ParamStore } from '../nn/params.js';
import {
  type BlockActivations,
  CifarResnet,
  type PairActivations,
  type ResnetActivations,
  resnetActivations,
} from '../nn/resnet.js';
import { softmaxCrossEntropy } from '../ops/norm/cross-entropy.js';
import { reduce } from '../ops/reduce/reduce.js';
import type { GradNormBatch } from './importance.js';

/** Work done so far, in units run on one batch (the stem is a unit), against what plain scoring would do. */
export interface SharingStats {
  /** Candidates scored. */
  candidates: number;
  /** Units run forward (the prefix once per batch, trie nodes, the units after the segment). */
  unitForwards: number;
  /** Units a plain search would have run forward for the same candidates. */
  unitForwardsPlain: number;
  /** Units run backward (as plain: every candidate backpropagates through its whole network). */
  unitBackwards: number;
  /** GPU → CPU reads (one per candidate, all batches' squared norms together). */
  readbacks: number;
}

interface Path {
  readonly unit: number;
  readonly act: BlockActivations;
  readonly out: Tensor;
}

interface BatchState {
  readonly batch: GradNormBatch;
  stem: { pair: PairActivations; pool: ResnetActivations['stemPool']; out: Tensor } | undefined;
  /** Blocks before the segment, in order. */
  readonly prefix: BlockActivations[];
  /** The last candidate's kept segment units and their activations. */
  readonly path: Path[];
}

const pairTensors = (p: PairActivations) => [p.pre, p.stats, p.out];
const blockTensors = (b: BlockActivations) => [
  ...b.body.flatMap(pairTensors),
  ...(b.shortcut ? pairTensors(b.shortcut) : []),
];

/**
 * Scores keep-sets of `segment` ([start, end) unit indices) on `batches`. Calls may come in any order
 * (greedy search too); lexicographic order shares the most. dispose() frees the cached activations.
 */
export class SharedSegmentScorer {
  readonly stats: SharingStats = {
    candidates: 0,
    unitForwards: 0,
    unitForwardsPlain: 0,
    unitBackwards: 0,
    readbacks: 0,
  };
  private readonly full: CifarResnet;
  private readonly scratch = new Map<number, Tensor>();
  private readonly states: BatchState[];
  private disposed = false;

  constructor(
    private readonly gpu: Gpu,
    desc: ModelDescription,
    params: ParamStore,
    private readonly segment: readonly [number, number],
    private readonly makeNetwork: (removed: readonly number[]) => CifarResnet,
    batches: readonly GradNormBatch[],
    private readonly counters?: { forward: number; backward: number },
  ) {
    const [start, end] = segment;
    if (!(Number.isInteger(start) && Number.isInteger(end) && 1 <= start && start < end)) {
      throw new RangeError(`segment [${start}, ${end}) must hold blocks only (units 1 and up)`);
    }
    if (end > desc.units.length) {
      throw new RangeError(`segment [${start}, ${end}) runs past ${desc.name}'s ${desc.units.length} units`);
    }
    if (batches.length === 0) throw new Error('GradNorm needs at least one batch');
    this.full = new CifarResnet(gpu, desc, params);
    if (this.full.blocks.some((b, i) => b.unit !== i + 1)) {
      throw new Error(`${desc.name}: blocks are not units 1, 2, … in order`);
    }
    this.states = batches.map((batch) => ({ batch, stem: undefined, prefix: [], path: [] }));
  }

  /** GradNorm of the model with the segment's units outside `keepSet` removed. */
  async score(keepSet: readonly number[]): Promise<number> {
    if (this.disposed) throw new Error('SharedSegmentScorer: used after dispose()');
    const [start, end] = this.segment;
    const keep = new Set(keepSet);
    const kept: number[] = [];
    const removed: number[] = [];
    for (let u = start; u < end; u++) (keep.has(u) ? kept : removed).push(u);
    const net = this.makeNetwork(removed);
    const keys = net.params.trainableKeys();
    const n = this.states.length;
    const squares = await this.gpu.scope(async () => {
      const slots = this.gpu.empty([n * keys.length]);
      for (const [i, state] of this.states.entries()) {
        const grads = this.backward(state, kept, net);
        keys.forEach((k, j) => {
          const g = grads.get(k);
          if (!g) throw new Error(`internal: backward gave no gradient for "${k}"`);
          const at = 4 * (i * keys.length + j);
          if (g.size === 0) this.gpu.copy(this.gpu.zeros([1]), slots, 4, 0, at);
          else this.gpu.copy(reduce(this.gpu, g.reshape([g.size]), 'sumsq', 0), slots, 4, 0, at);
        });
        // Gradients are freed as soon as their squares are recorded: they would otherwise pile up.
        for (const g of grads.values()) g.dispose();
      }
      return this.gpu.readF32(slots);
    });
    this.stats.readbacks++;
    this.stats.candidates++;
    // As networkGradNorm: per batch √ of the f64 sum in key order, then the mean over batches.
    let sum = 0;
    for (let i = 0; i < n; i++) {
      let total = 0;
      for (let j = 0; j < keys.length; j++) total += squares[i * keys.length + j];
      sum += Math.sqrt(total);
    }
    return sum / n;
  }

  /** Frees every cached activation; the scorer cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of this.states) {
      this.truncate(s, 0);
      for (const b of s.prefix.splice(0)) for (const t of blockTensors(b)) t.dispose();
      if (s.stem) {
        for (const t of pairTensors(s.stem.pair)) t.dispose();
        if (s.stem.pool) {
          s.stem.pool.out.dispose();
          s.stem.pool.indices.dispose();
        }
        s.stem = undefined;
      }
    }
    for (const t of this.scratch.values()) t.dispose();
    this.scratch.clear();
  }

  /** Forward (reusing what is cached) and backward of one candidate on one batch: its gradients. */
  private backward(state: BatchState, kept: readonly number[], net: CifarResnet): Map<string, Tensor> {
    const gpu = this.gpu;
    const [start] = this.segment;
    if (!state.stem) this.runPrefix(state);
    const stem = state.stem as NonNullable<BatchState['stem']>;
    const plainUnits = 1 + (start - 1) + kept.length + (this.full.blocks.length - (this.segment[1] - 1));
    this.stats.unitForwardsPlain += plainUnits;
    // The trie step: keep the common prefix of the cached path, recompute the rest.
    let common = 0;
    while (common < state.path.length && common < kept.length && state.path[common].unit === kept[common]) {
      common++;
    }
    this.truncate(state, common);
    for (let i = common; i < kept.length; i++) {
      const input = i === 0 ? this.prefixOut(state) : state.path[i - 1].out;
      const act = this.full.trainBlock(kept[i] - 1, input, this.scratch);
      for (const t of blockTensors(act)) gpu.keep(t);
      state.path.push({ unit: kept[i], act, out: act.body[act.body.length - 1].out });
      this.stats.unitForwards++;
    }
    // After the segment: per candidate (its input differs), freed by backward.
    let h = state.path.length > 0 ? state.path[state.path.length - 1].out : this.prefixOut(state);
    const suffix: BlockActivations[] = [];
    for (let b = this.segment[1] - 1; b < this.full.blocks.length; b++) {
      const act = this.full.trainBlock(b, h, this.scratch);
      suffix.push(act);
      h = act.body[act.body.length - 1].out;
      this.stats.unitForwards++;
    }
    const { pooled, logits } = this.full.trainHead(h);
    if (this.counters) this.counters.forward++;
    const ce = softmaxCrossEntropy(gpu, logits, state.batch.labels);
    if (!ce.dlogits) throw new Error('internal: cross-entropy gave no gradient');
    const shared = new Set<Tensor>([
      ...pairTensors(stem.pair),
      ...(stem.pool ? [stem.pool.out, stem.pool.indices] : []),
      ...state.prefix.flatMap(blockTensors),
      ...state.path.flatMap((p) => blockTensors(p.act)),
    ]);
    const saved = resnetActivations({
      x: state.batch.x,
      stem: stem.pair,
      stemPool: stem.pool,
      blocks: [...state.prefix, ...state.path.map((p) => p.act), ...suffix],
      pooled,
      featureShape: h.shape,
      shared,
    });
    const grads = net.backward(saved, ce.dlogits);
    if (this.counters) this.counters.backward++;
    this.stats.unitBackwards += 1 + saved.blocks.length;
    return grads;
  }

  /** The stem and the blocks before the segment, once per batch; counted as one forward pass. */
  private runPrefix(state: BatchState): void {
    const gpu = this.gpu;
    const stem = this.full.trainStem(state.batch.x, this.scratch);
    for (const t of pairTensors(stem.pair)) gpu.keep(t);
    if (stem.pool) {
      gpu.keep(stem.pool.out);
      gpu.keep(stem.pool.indices);
    }
    state.stem = stem;
    let h = stem.out;
    for (let b = 0; b < this.segment[0] - 1; b++) {
      const act = this.full.trainBlock(b, h, this.scratch);
      for (const t of blockTensors(act)) gpu.keep(t);
      state.prefix.push(act);
      h = act.body[act.body.length - 1].out;
    }
    this.stats.unitForwards += 1 + state.prefix.length;
    if (this.counters) this.counters.forward++;
  }

  private prefixOut(state: BatchState): Tensor {
    const last = state.prefix[state.prefix.length - 1];
    if (last) return last.body[last.body.length - 1].out;
    return (state.stem as NonNullable<BatchState['stem']>).out;
  }

  private truncate(state: BatchState, length: number): void {
    for (const p of state.path.splice(length)) for (const t of blockTensors(p.act)) t.dispose();
  }
}
