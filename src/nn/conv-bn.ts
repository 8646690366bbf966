// What conv → BN models share: the BN's parameter tensors, throw-away running statistics for passes that
// must not change them, and the eval-mode fold of a BN into the conv before it.

import type { BatchNorm2dSpec, Conv2dSpec, ConvBn } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import { type BatchNormParams, batchNorm2dEval, batchNorm2dTrain } from '../ops/index.js';
import type { ParamStore } from './params.js';

export function bnParams(params: ParamStore, bn: BatchNorm2dSpec): BatchNormParams {
  return {
    weight: params.get(`${bn.name}.weight`),
    bias: params.get(`${bn.name}.bias`),
    runningMean: params.get(`${bn.name}.running_mean`),
    runningVar: params.get(`${bn.name}.running_var`),
  };
}

/**
 * A zeroed [|key|] vector kept for one forward pass (key > 0: means, key < 0: variances): the BN train kernel
 * always updates running statistics, so a pass that must leave them alone hands it these.
 */
export function scratchVec(gpu: Gpu, scratch: Map<number, Tensor>, key: number): Tensor {
  let t = scratch.get(key);
  if (!t) {
    t = gpu.keep(gpu.zeros([Math.abs(key)]));
    scratch.set(key, t);
  }
  return t;
}

/**
 * What a train-mode BN does with its running statistics: false leaves them alone, true updates them with
 * the layer's momentum, a number updates them with that momentum (BN recalibration passes 1/k at batch k
 * for a cumulative average: docs/method.md, "Batch-norm recalibration").
 */
export type StatsUpdate = boolean | number;

/** The StatsUpdate of a forward pass's options (updateRunningStats defaults to true). */
export function runningUpdate(o: { updateRunningStats?: boolean; bnMomentum?: number }): StatsUpdate {
  if (o.updateRunningStats === false) return false;
  if (o.bnMomentum === undefined) return true;
  if (!(o.bnMomentum > 0 && o.bnMomentum <= 1)) {
    throw new RangeError(`bnMomentum must be in (0, 1], got ${o.bnMomentum}`);
  }
  return o.bnMomentum;
}

/**
 * A BN on the conv output `pre`: eval mode on the running statistics; train mode on the batch statistics
 * (returned as `stats`), updating the running ones in place as `update` says.
 */
export function bnForward(
  gpu: Gpu,
  params: ParamStore,
  bn: BatchNorm2dSpec,
  pre: Tensor,
  o: {
    readonly train: boolean;
    readonly update: StatsUpdate;
    readonly scratch: Map<number, Tensor>;
    readonly relu: boolean;
    readonly residual?: Tensor;
  },
): { out: Tensor; stats?: Tensor } {
  const p = bnParams(params, bn);
  const { relu, residual } = o;
  if (!o.train) return { out: batchNorm2dEval(gpu, pre, p, { eps: bn.eps, relu, residual }) };
  if (o.update === false) {
    // The kernel always updates running statistics: give it throw-away ones.
    p.runningMean = scratchVec(gpu, o.scratch, bn.channels);
    p.runningVar = scratchVec(gpu, o.scratch, -bn.channels);
  }
  const momentum = typeof o.update === 'number' ? o.update : bn.momentum;
  return batchNorm2dTrain(gpu, pre, p, { eps: bn.eps, momentum, relu, residual });
}

/** BN folded into the conv before it, for eval mode: w' = w·γ/√(σ²+ε), b' = β + (b − μ)·γ/√(σ²+ε). */
export interface FoldedConv {
  readonly weight: Tensor;
  readonly bias: Tensor;
}

/** Folds one conv → BN pair from the current parameters (in f64 on the CPU); the tensors are kept. */
export async function foldConvBn(
  gpu: Gpu,
  params: ParamStore,
  conv: Conv2dSpec,
  bn: BatchNorm2dSpec,
): Promise<FoldedConv> {
  const read = (key: string) => gpu.readF32(params.get(key));
  const w = await read(`${conv.name}.weight`);
  const b = conv.bias ? await read(`${conv.name}.bias`) : undefined;
  const gamma = await read(`${bn.name}.weight`);
  const beta = await read(`${bn.name}.bias`);
  const mean = await read(`${bn.name}.running_mean`);
  const variance = await read(`${bn.name}.running_var`);
  const per = w.length / conv.outChannels;
  const fw = new Float32Array(w.length);
  const fb = new Float32Array(conv.outChannels);
  for (let c = 0; c < conv.outChannels; c++) {
    const s = gamma[c] / Math.sqrt(variance[c] + bn.eps);
    for (let i = c * per; i < (c + 1) * per; i++) fw[i] = w[i] * s;
    fb[c] = beta[c] + ((b ? b[c] : 0) - mean[c]) * s;
  }
  return {
    weight: gpu.keep(gpu.tensor(fw, [conv.outChannels, conv.inChannels, conv.kernel, conv.kernel])),
    bias: gpu.keep(gpu.tensor(fb, [conv.outChannels])),
  };
}

/** Folds each pair, keyed by conv name; on failure frees what it had folded. */
export async function foldConvBns(
  gpu: Gpu,
  params: ParamStore,
  pairs: Iterable<ConvBn>,
): Promise<Map<string, FoldedConv>> {
  const convs = new Map<string, FoldedConv>();
  try {
    for (const { conv, bn } of pairs) convs.set(conv.name, await foldConvBn(gpu, params, conv, bn));
  } catch (e) {
    disposeFolded(convs);
    throw e;
  }
  return convs;
}

export function disposeFolded(convs: Map<string, FoldedConv>): void {
  for (const f of convs.values()) {
    f.weight.dispose();
    f.bias.dispose();
  }
}

/**
 * A model's eval-mode snapshot: every conv → BN pair folded from the parameters of one ParamStore.version.
 * `current()` drops a snapshot the parameters have moved on from.
 */
export class FoldedSnapshot {
  private folded: { convs: Map<string, FoldedConv>; version: number } | undefined;

  constructor(
    private readonly gpu: Gpu,
    private readonly params: ParamStore,
  ) {}

  async freeze(pairs: Iterable<ConvBn>): Promise<void> {
    this.drop();
    const version = this.params.version;
    this.folded = { convs: await foldConvBns(this.gpu, this.params, pairs), version };
  }

  drop(): void {
    if (!this.folded) return;
    disposeFolded(this.folded.convs);
    this.folded = undefined;
  }

  get frozen(): boolean {
    return this.folded !== undefined && this.folded.version === this.params.version;
  }

  /** The folded convs by conv name, or undefined when there is no snapshot of the current parameters. */
  current(): Map<string, FoldedConv> | undefined {
    if (this.folded && this.folded.version !== this.params.version) this.drop();
    return this.folded?.convs;
  }
}
