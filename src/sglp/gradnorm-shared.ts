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
import type { Gradients } from '../nn/forward.js';
import type { ParamStore } from '../nn/params.js';
import { CifarResnet } from '../nn/resnet.js';
import {
  type BlockActivations,
  type PairActivations,
  type ResnetActivations,
  resnetActivations,
} from '../nn/resnet-activations.js';
import { softmaxCrossEntropy } from '../ops/norm/cross-entropy.js';
import { reduce } from '../ops/reduce/reduce.js';
import type { LowerBound } from './candidates.js';
import type { GradNormBatch } from './importance.js';

/**
 * Relative slack of the early stop: the partial and the full norm add the same f32 squares in f64 in
 * different orders (errors ~1e-14), so a candidate is only stopped when its partial norm is clearly above.
 */
const BOUND_MARGIN = 1e-9;

/** Work done so far, in units run on one batch (the stem is a unit), against what plain scoring would do. */
export interface SharingStats {
  /** Candidates scored. */
  candidates: number;
  /** Units run forward (the prefix once per batch, trie nodes, the units after the segment). */
  unitForwards: number;
  /** Units a plain search would have run forward for the same candidates. */
  unitForwardsPlain: number;
  /** Units run backward (fewer than plain when candidates stop early, `stopped`). */
  unitBackwards: number;
  /** Units a plain search would have run backward for the same candidates. */
  unitBackwardsPlain: number;
  /** Candidates stopped early because they could not beat the best score (min search only). */
  stopped: number;
  /** GPU → CPU reads (one per candidate, all batches' squared norms together, plus one per piece with a bound). */
  readbacks: number;
}

/** SharingStats with nothing done yet. */
export const noSharing = (): SharingStats => ({
  candidates: 0,
  unitForwards: 0,
  unitForwardsPlain: 0,
  unitBackwards: 0,
  unitBackwardsPlain: 0,
  stopped: 0,
  readbacks: 0,
});

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
  readonly stats: SharingStats = noSharing();
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

  /**
   * GradNorm of the model with the segment's units outside `keepSet` removed. With `bound` (a min search's
   * best score so far) the batches' backward passes run in lock-step, piece by piece from the head, and
   * stop as soon as the norm of the gradients so far exceeds `bound`: the norm only grows as pieces are
   * added, so the candidate cannot win, and that partial norm is returned as a lower bound.
   */
  score(keepSet: readonly number[]): Promise<number>;
  score(keepSet: readonly number[], bound: number | undefined): Promise<number | LowerBound>;
  async score(keepSet: readonly number[], bound?: number): Promise<number | LowerBound> {
    if (this.disposed) throw new Error('SharedSegmentScorer: used after dispose()');
    const [start, end] = this.segment;
    const keep = new Set(keepSet);
    const kept: number[] = [];
    const removed: number[] = [];
    for (let u = start; u < end; u++) (keep.has(u) ? kept : removed).push(u);
    const net = this.makeNetwork(removed);
    const keys = net.params.trainableKeys();
    const slotOf = new Map(keys.map((k, j) => [k, j]));
    const n = this.states.length;
    const result = await this.gpu.scope(async () => {
      // Unrecorded slots read as 0, so a partial readback sums the pieces done so far.
      const slots = this.gpu.zeros([n * keys.length]);
      const record = (batch: number, piece: ReadonlyMap<string, Tensor>, unit: boolean) => {
        for (const [k, g] of piece) {
          const j = slotOf.get(k);
          if (j === undefined) throw new Error(`internal: backward gave an unknown gradient "${k}"`);
          if (g.size > 0) {
            this.gpu.copy(
              reduce(this.gpu, g.reshape([g.size]), 'sumsq', 0),
              slots,
              4,
              0,
              4 * (batch * keys.length + j),
            );
          }
          // Gradients are freed as soon as their squares are recorded: they would otherwise pile up.
          g.dispose();
        }
        if (unit) this.stats.unitBackwards++;
      };
      // Every batch's forward first, then the backward passes a piece each in turn.
      const runs = this.states.map((state) => this.backward(state, kept, net));
      try {
        for (let piece = 0, live = n; live > 0; piece++) {
          live = 0;
          runs.forEach((run, i) => {
            const step = run.next();
            if (step.done) return;
            // The first piece is the head; the others are units (blocks, then the stem).
            record(i, step.value, piece > 0);
            live++;
          });
          // After the last piece (the stem) the norm is the score itself: no bound to test.
          if (bound === undefined || live === 0 || piece === net.blocks.length + 1) continue;
          const partial = meanNorm(await this.gpu.readF32(slots), n, keys.length);
          this.stats.readbacks++;
          if (partial > bound * (1 + BOUND_MARGIN)) return { atLeast: partial };
        }
      } finally {
        for (const run of runs) run.return(new Map());
      }
      if (this.counters) this.counters.backward += n;
      this.stats.readbacks++;
      return meanNorm(await this.gpu.readF32(slots), n, keys.length);
    });
    this.stats.candidates++;
    if (typeof result !== 'number') this.stats.stopped++;
    return result;
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

  /**
   * One candidate's forward on one batch (reusing what is cached), recorded now, and its backward, to be
   * run piece by piece (CifarResnet.backwardSteps).
   */
  private backward(
    state: BatchState,
    kept: readonly number[],
    net: CifarResnet,
  ): Generator<Gradients, Gradients, void> {
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
    this.stats.unitBackwardsPlain += 1 + saved.blocks.length;
    return net.backwardSteps(saved, ce.dlogits);
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

/** As networkGradNorm: per batch √ of the f64 sum of its squares in key order, then the mean over batches. */
function meanNorm(squares: Float32Array, batches: number, keys: number): number {
  let sum = 0;
  for (let i = 0; i < batches; i++) {
    let total = 0;
    for (let j = 0; j < keys; j++) total += squares[i * keys + j];
    sum += Math.sqrt(total);
  }
  return sum / batches;
}
