import optimWgsl from '../../../shaders/optim.wgsl';
import type { Gpu } from '../../gpu/device.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { elementwise } from '../../tunables.js';
import { grid2d } from '../util.js';

/** One step's hyper-parameters. AdamW's c1 = 1 - beta1^t and c2 = 1 - beta2^t come from the caller's step count. */
export type OptimStep =
  | { kind: 'sgd'; lr: number; weightDecay: number; momentum: number }
  | {
      kind: 'adamw';
      lr: number;
      weightDecay: number;
      beta1: number;
      beta2: number;
      eps: number;
      c1: number;
      c2: number;
    };

/** One declaration for both rules; SGD gives 0 (and 1 for the AdamW corrections) for what it does not read. */
const params = uniforms({
  n: 'u32',
  stride: 'u32',
  lr: 'f32',
  wd: 'f32',
  momentum: 'f32',
  beta1: 'f32',
  beta2: 'f32',
  eps: 'f32',
  c1: 'f32',
  c2: 'f32',
});

/**
 * Updates `param` in place from `grad` with PyTorch's SGD-with-momentum or AdamW rule (shaders/optim.wgsl);
 * `state` is the momentum buffer (SGD) or the two moments (AdamW), same shape, updated in place too. The
 * caller (train/optimizer.ts) owns the state and the step count and checks the shapes.
 */
export function optimStep(
  gpu: Gpu,
  param: Tensor,
  grad: Tensor,
  state: readonly Tensor[],
  s: OptimStep,
): void {
  if (param.size === 0) return;
  const wg = elementwise.workgroupSize;
  const [x, y] = grid2d(Math.ceil(param.size / wg));
  const adamw = s.kind === 'adamw';
  const rule = adamw
    ? { momentum: 0, beta1: s.beta1, beta2: s.beta2, eps: s.eps, c1: s.c1, c2: s.c2 }
    : { momentum: s.momentum, beta1: 0, beta2: 0, eps: 0, c1: 1, c2: 1 };
  gpu.dispatch({
    kernel: {
      name: adamw ? 'optim.adamw' : 'optim.sgd',
      template: optimWgsl,
      defines: { WG: wg, ADAMW: adamw },
      params,
    },
    buffers: [param, grad, ...state],
    uniforms: { n: param.size, stride: x * y * wg, lr: s.lr, wd: s.weightDecay, ...rule },
    workgroups: [x, y],
  });
}
