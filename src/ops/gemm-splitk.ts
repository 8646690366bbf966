import activationWgsl from '../../shaders/activation.wgsl';
import splitkWgsl from '../../shaders/gemm-splitk.wgsl';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import { elementwise } from '../tunables.js';
import { type Activation, activationDefines } from './activation.js';
import { f32bits, grid2d } from './util.js';

export interface SplitKFold {
  m: number;
  n: number;
  batch: number;
  splits: number;
  alpha: number;
  bias?: Tensor;
  biasAxis: 'n' | 'm';
  activation: Activation;
  outDType: 'f32' | 'f16';
}

/**
 * Folds split-K partial sums [batch * splits, M, N] (f32) into `out` in slice order and applies the
 * epilogue (alpha, bias, activation, output type): the second pass of both GEMM kernels (gemm.wgsl,
 * gemm-tiled.wgsl).
 */
export function foldSplitK(gpu: Gpu, partial: Tensor, out: Tensor, f: SplitKFold): void {
  const wg = elementwise.workgroupSize;
  const [gx, gy] = grid2d(Math.ceil(out.size / wg));
  gpu.dispatch({
    kernel: {
      name: 'gemm.splitk',
      template: splitkWgsl + activationWgsl,
      defines: {
        WG: wg,
        F16: f.outDType === 'f16',
        OUT: f.outDType,
        HAS_BIAS: !!f.bias,
        BIAS_N: !!f.bias && f.biasAxis === 'n',
        BIAS_M: !!f.bias && f.biasAxis === 'm',
        ...activationDefines(f.activation),
        BIND_C: f.bias ? 2 : 1,
        BIND_P: f.bias ? 3 : 2,
      },
    },
    buffers: f.bias ? [partial, f.bias, out] : [partial, out],
    uniforms: new Uint32Array([f.m, f.n, f.batch, f.splits, f32bits(f.alpha), gx, 0, 0]),
    workgroups: [gx, gy],
  });
}
