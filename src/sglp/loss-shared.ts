// The loss score of one ResNet segment's candidates with the work they share (docs/method.md §4): a removed
// residual block is the identity, so a candidate network is the full network with some blocks skipped,
// and its eval-mode forward (folded BN, the loaded tensors) needs no network of its own. The forward
// through the units before the segment runs once per scoring batch; inside the segment the kept blocks
// form a trie over the lexicographic candidates (a stack holds the last candidate's path, the next one
// recomputes only past their common prefix); the blocks after the segment and the head run per candidate.
// Scores are bit-identical to scoring each pruned network on its own (loss-score.ts, share: false): the
// same folded convs see the same inputs.

import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import type { CifarResnet } from '../nn/resnet.js';
import { softmaxCrossEntropy } from '../ops/norm/cross-entropy.js';
import type { GradNormBatch } from './importance.js';

interface BatchState {
  readonly batch: GradNormBatch;
  /** The output of the units before the segment (the stem at least: it is never removed). */
  prefix: Tensor | undefined;
  /** The last candidate's kept segment blocks and their outputs. */
  readonly path: { readonly unit: number; readonly out: Tensor }[];
}

export class SharedLossScorer {
  private readonly states: BatchState[];
  /** Block index (CifarResnet.blocks) of each unit; the stem (unit 0) has none. */
  private readonly blockOf = new Map<number, number>();
  private frozen: Promise<void> | undefined;

  constructor(
    private readonly gpu: Gpu,
    /** The full network over the loaded tensors; frozen (folded) on the first score. */
    private readonly net: CifarResnet,
    private readonly segment: readonly [number, number],
    batches: readonly GradNormBatch[],
    private readonly counters?: { forward: number },
  ) {
    net.blocks.forEach((b, i) => {
      this.blockOf.set(b.unit, i);
    });
    this.states = batches.map((batch) => ({ batch, prefix: undefined, path: [] }));
  }

  /** Mean over the batches of the pruned network's mean cross-entropy (f64 mean, batches in order). */
  async score(keepSet: readonly number[]): Promise<number> {
    this.frozen ??= this.net.freezeForEval();
    await this.frozen;
    const [start, end] = this.segment;
    const kept = keepSet.filter((u) => u >= Math.max(start, 1) && u < end);
    let sum = 0;
    for (const st of this.states) {
      const h = this.along(st, kept);
      sum += await this.gpu.scope(async () => {
        let cur = h;
        for (let b = 0; b < this.net.blocks.length; b++) {
          if (this.net.blocks[b].unit < end) continue;
          const next = this.net.evalBlock(b, cur);
          if (cur !== h) cur.dispose();
          cur = next;
        }
        const logits = this.net.evalHead(cur);
        if (cur !== h) cur.dispose();
        const ce = softmaxCrossEntropy(this.gpu, logits, st.batch.labels, { grad: false });
        return (await this.gpu.readF32(ce.loss))[0];
      });
      if (this.counters) this.counters.forward++;
    }
    return sum / this.states.length;
  }

  /** The output of the candidate's kept segment blocks on this batch, reusing the common trie prefix. */
  private along(st: BatchState, kept: readonly number[]): Tensor {
    st.prefix ??= this.prefix(st.batch.x);
    let common = 0;
    while (common < st.path.length && common < kept.length && st.path[common].unit === kept[common]) common++;
    for (const node of st.path.splice(common)) node.out.dispose();
    for (let i = common; i < kept.length; i++) {
      const input = st.path.at(-1)?.out ?? st.prefix;
      const out = this.gpu.keep(this.net.evalBlock(this.block(kept[i]), input));
      st.path.push({ unit: kept[i], out });
    }
    return st.path.at(-1)?.out ?? st.prefix;
  }

  private prefix(x: Tensor): Tensor {
    let h = this.net.evalStem(x);
    for (let b = 0; b < this.net.blocks.length; b++) {
      if (this.net.blocks[b].unit >= this.segment[0]) break;
      const next = this.net.evalBlock(b, h);
      h.dispose();
      h = next;
    }
    return this.gpu.keep(h);
  }

  private block(unit: number): number {
    const b = this.blockOf.get(unit);
    if (b === undefined) throw new Error(`loss score: unit ${unit} is not a residual block`);
    return b;
  }

  dispose(): void {
    for (const st of this.states) {
      st.prefix?.dispose();
      st.prefix = undefined;
      for (const node of st.path.splice(0)) node.out.dispose();
    }
    this.net.unfreeze();
  }
}
