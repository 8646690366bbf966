// What conv → BN models share: the BN's parameter tensors, throw-away running statistics for passes that
// must not change them, and the eval-mode fold of a BN into the conv before it.

import type { BatchNorm2dSpec, Conv2dSpec } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import type { BatchNormParams } from '../ops/index.js';
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
