// The baselines SGLP is compared with (issue 4 item 7), on the same data and budget: each removes R
// unprotected units (protected units, docs/method.md §0, are never removed).
// - random: a seeded shuffle of the unprotected units (mulberry32, src/io/prng.ts, stream RANDOM_STREAM of
//   `--seed`), the first R of it;
// - last: the last R unprotected units;
// - block-influence (ShortGPT, Men et al. 2024): BI = 1 − mean over sample rows of cos(h_in, h_out);
// - angular (Gromov et al. 2024, blocks of n = 1 unit): mean over sample rows of arccos(cos(h_in, h_out))/π.
// The two scored baselines remove the R lowest scores (the units that change their input least; ties: the
// earlier unit first). h_in is what enters the unit, i.e. the previous unit's output as it goes on (the
// stem's after BN and ReLU), and h_out the unit's output; both are flattened to one row per sample (C·H·W),
// like CKA's features, on the same calibration samples (calibrate.ts runs the observer in its pass).
// Decoder LMs: rows are tokens, h_in of layer i is layer i−1's output and layer 0's the embedding output
// (calibrate-text.ts hands it over through input()).
// Per row, x·y, |x|² and |y|² are reduced on the GPU; cosines and their means are taken in f64.

import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import { OptionError } from '../io/option-error.js';
import { Rng } from '../io/prng.js';
import type { ParamStore } from '../nn/params.js';
import { mul } from '../ops/elementwise/elementwise.js';
import { batchNorm2dEval } from '../ops/norm/batchnorm.js';
import { sum, sumSquares } from '../ops/reduce/reduce.js';
import type { FeatureObserver } from './calibrate.js';

export const BASELINES = ['random', 'last', 'block-influence', 'angular'] as const;
export type Baseline = (typeof BASELINES)[number];
export type ScoredBaseline = 'block-influence' | 'angular';

/** The random baseline's PRNG stream (so that `--seed` S here never repeats another use of seed S). */
export const RANDOM_STREAM = 0x5eed;

/** The units a baseline may remove: the unprotected ones, ascending. */
export function removableUnits(desc: Pick<ModelDescription, 'units'>): number[] {
  return desc.units.filter((u) => !u.protected).map((u) => u.index);
}

/** Throws unless a baseline can remove `remove` of `removable` units. */
export function checkBudget(method: Baseline, remove: number, removable: readonly number[]): void {
  if (!Number.isSafeInteger(remove) || remove < 0) {
    throw new OptionError(
      'target.remove',
      (n) => `${n('target.remove')} must be an integer >= 0, got ${remove}`,
    );
  }
  if (remove > removable.length) {
    throw new OptionError(
      ['target.remove', 'method'],
      (n) =>
        `${n('target.remove')} ${remove} with ${n('method')} ${method}: only ${removable.length} units are unprotected, ` +
        `so at most ${n('target.remove')} ${removable.length} is possible`,
    );
  }
}

/** R units of `removable` drawn by a seeded shuffle, ascending. */
export function chooseRandom(removable: readonly number[], remove: number, seed: number): number[] {
  checkBudget('random', remove, removable);
  if (!Number.isSafeInteger(seed))
    throw new OptionError('seed', (n) => `${n('seed')} must be an integer, got ${seed}`);
  const order = Rng.derive(seed, RANDOM_STREAM).shuffle([...removable]);
  return order.slice(0, remove).sort((a, b) => a - b);
}

/** The last R of `removable`, ascending. */
export function chooseLast(removable: readonly number[], remove: number): number[] {
  checkBudget('last', remove, removable);
  return [...removable].sort((a, b) => a - b).slice(removable.length - remove);
}

/** The R units with the lowest scores (ties: the earlier unit), ascending; every removable unit needs one. */
export function chooseLowest(
  method: ScoredBaseline,
  removable: readonly number[],
  scores: readonly (number | null)[],
  remove: number,
): number[] {
  checkBudget(method, remove, removable);
  const scored = removable.map((u) => {
    const s = scores[u];
    if (s === null || s === undefined || !Number.isFinite(s)) {
      throw new Error(`${method}: unit ${u} has no finite score (${s})`);
    }
    return { u, s };
  });
  scored.sort((a, b) => a.s - b.s || a.u - b.u);
  return scored
    .slice(0, remove)
    .map((e) => e.u)
    .sort((a, b) => a - b);
}

/**
 * Accumulates, per removable unit, the f64 sums over sample rows of cos(h_in, h_out) and of
 * arccos(cos)/π, during calibration. A unit whose input and output shapes differ has no cosine; such units
 * change stride or width and are protected (docs/method.md §0), so they are never scored: meeting an unprotected
 * one is an error.
 */
export class CosineScores implements FeatureObserver {
  private readonly scored: boolean[];
  private readonly cosSum: Float64Array;
  private readonly angleSum: Float64Array;
  private rows = 0;
  private batchRows = 0;
  /** The previous unit's output as it goes on, when the next unit is scored; ours to free. */
  private prev: Tensor | undefined;
  private prevUnit = -1;

  /** Whether the scores are defined for this model (the constructor refuses the others, saying why). */
  static defined(desc: ModelDescription): boolean {
    return desc.architecture === 'llama' || desc.architecture === 'cifar-resnet';
  }

  constructor(
    private readonly gpu: Gpu,
    private readonly desc: ModelDescription,
    /** The loaded tensors; only a ResNet stem's BN reads them (a streamed LM has none). */
    private readonly params: ParamStore | undefined,
  ) {
    const llm = desc.architecture === 'llama';
    if (desc.architecture === 'vgg') {
      // Defined as refused: a VGG conv is compared with nothing of its own width in general (4 → 6, and a
      // pool between stages), and comparing only the convs whose widths match would rank a subset.
      throw new Error(
        `block-influence/angular: ${desc.name}: a conv's input and output differ in width (and pools sit ` +
          'between stages), so cos(h_in, h_out) is undefined for VGG; use --method sglp, random or last',
      );
    }
    if (!llm && (desc.net.family !== 'resnet' || desc.architecture !== 'cifar-resnet')) {
      throw new Error(
        `block-influence/angular: architecture "${desc.architecture}" is not supported yet (supported: cifar-resnet, llama)`,
      );
    }
    const L = desc.units.length;
    this.scored = desc.units.map((u) => !u.protected);
    for (const u of desc.units) {
      if (u.protected) continue;
      const same = u.input.length === u.output.length && u.input.every((d, i) => d === u.output[i]);
      // A decoder layer 0's input is the embedding output, handed over through input().
      if (!same || (u.index === 0 && !llm)) {
        throw new Error(
          `block-influence/angular: unit ${u.name} is unprotected but its input [${u.input.join(', ')}] and ` +
            `output [${u.output.join(', ')}] differ, so cos(h_in, h_out) is undefined`,
        );
      }
    }
    this.cosSum = new Float64Array(L);
    this.angleSum = new Float64Array(L);
  }

  beginBatch(rows: number): void {
    this.batchRows = rows;
    this.dropPrev();
  }

  /** A decoder LM's embedding output [tokens, hidden], i.e. layer 0's input (calibrate-text.ts). */
  input(embedded: Tensor): void {
    this.dropPrev();
    if (this.scored[0]) this.prev = this.goesOn(-1, embedded);
  }

  async capture(unit: number, rep: Tensor): Promise<void> {
    if (this.scored[unit]) {
      if (this.prev === undefined || this.prevUnit !== unit - 1) {
        throw new Error(
          `block-influence/angular: the input of unit ${this.desc.units[unit].name} was not seen`,
        );
      }
      await this.accumulate(unit, this.prev, rep);
    }
    this.dropPrev();
    if (unit + 1 < this.scored.length && this.scored[unit + 1]) {
      this.prev = this.goesOn(unit, rep);
      this.prevUnit = unit;
    }
  }

  endBatch(): void {
    this.rows += this.batchRows;
    this.dropPrev();
  }

  /** Per unit: BI = 1 − mean cos, or the mean angular distance; null for units not scored. */
  scores(kind: ScoredBaseline): (number | null)[] {
    if (this.rows === 0) throw new Error('block-influence/angular: no calibration batch was seen');
    return this.scored.map((s, u) => {
      if (!s) return null;
      return kind === 'block-influence' ? 1 - this.cosSum[u] / this.rows : this.angleSum[u] / this.rows;
    });
  }

  dispose(): void {
    this.dropPrev();
  }

  private dropPrev(): void {
    this.prev?.dispose();
    this.prev = undefined;
    this.prevUnit = -1;
  }

  /** A copy of what unit `unit` hands on: a block's output as captured; the stem's after BN and ReLU. */
  private goesOn(unit: number, rep: Tensor): Tensor {
    const net = this.desc.net;
    if (unit === this.desc.stem && net.family === 'resnet') {
      const bn = net.stem.bn;
      const store = this.params;
      if (!store)
        throw new Error(`block-influence/angular: the stem's BN of ${this.desc.name} needs its tensors`);
      const p = (k: string) => store.get(`${bn.name}.${k}`);
      const params = {
        weight: p('weight'),
        bias: p('bias'),
        runningMean: p('running_mean'),
        runningVar: p('running_var'),
      };
      return this.gpu.keep(batchNorm2dEval(this.gpu, rep, params, { eps: bn.eps, relu: true }));
    }
    const copy = this.gpu.keep(this.gpu.empty(rep.shape));
    this.gpu.copy(rep, copy);
    return copy;
  }

  private async accumulate(unit: number, input: Tensor, output: Tensor): Promise<void> {
    const gpu = this.gpu;
    const n = output.shape[0];
    const p = output.size / n;
    if (input.size !== output.size || input.shape[0] !== n) {
      throw new Error(
        `block-influence/angular: unit ${this.desc.units[unit].name}: input [${input.shape.join(', ')}] and ` +
          `output [${output.shape.join(', ')}] differ`,
      );
    }
    const x = input.reshape([n, p]);
    const y = output.reshape([n, p]);
    const xy = mul(gpu, x, y);
    const parts = [sum(gpu, xy), sumSquares(gpu, x), sumSquares(gpu, y)];
    xy.dispose();
    // One readback of [x·y | |x|² | |y|²].
    const stacked = gpu.empty([3, n]);
    parts.forEach((t, i) => {
      gpu.copy(t, stacked, 4 * n, 0, 4 * n * i);
    });
    let v: Float32Array;
    try {
      v = await gpu.readF32(stacked);
    } finally {
      for (const t of parts) t.dispose();
      stacked.dispose();
    }
    for (let r = 0; r < n; r++) {
      const nx = v[n + r];
      const ny = v[2 * n + r];
      const denom = Math.sqrt(nx * ny);
      if (!(denom > 0) || !Number.isFinite(denom) || !Number.isFinite(v[r])) {
        throw new Error(
          `block-influence/angular: unit ${this.desc.units[unit].name}: sample row ${this.rows + r} has a zero ` +
            `or non-finite input or output (|h_in|² = ${nx}, |h_out|² = ${ny}), so its cosine is undefined`,
        );
      }
      const cos = Math.min(1, Math.max(-1, v[r] / denom));
      this.cosSum[unit] += cos;
      this.angleSum[unit] += Math.acos(cos) / Math.PI;
    }
  }
}
