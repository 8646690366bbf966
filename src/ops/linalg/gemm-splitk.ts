import activationWgsl from '../../../shaders/activation.wgsl';
import splitkWgsl from '../../../shaders/gemm-splitk.wgsl';
import type { Gpu } from '../../gpu/device.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { elementwise } from '../../tunables.js';
import { type Activation, activationDefines } from '../elementwise/activation.js';
import { grid2d } from '../util.js';

const params = uniforms({
  m: 'u32',
  n: 'u32',
  batch: 'u32',
  splits: 'u32',
  alpha: 'f32',
  gridX: 'u32',
});

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
      params,
    },
    buffers: f.bias ? [partial, f.bias, out] : [partial, out],
    uniforms: { m: f.m, n: f.n, batch: f.batch, splits: f.splits, alpha: f.alpha, gridX: gx },
    workgroups: [gx, gy],
  });
}
