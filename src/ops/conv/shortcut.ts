import reluBackwardWgsl from '../../../shaders/relu-backward.wgsl';
import shortcutWgsl from '../../../shaders/shortcut.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { cnn as tun } from '../../tunables.js';
import { elementGrid } from '../elementwise/elementwise-grid.js';
import { expectDType, sameShape } from '../util.js';

/**
 * Zero channels added on each side by the option-A shortcut of a block with `planes` output channels:
 * floor(planes / 4), as the common PyTorch LambdaLayer `F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4,
 * planes // 4))`. The output has C + 2 * floor(planes / 4) channels (= planes when planes = 2 C).
 */
export function shortcutAPad(planes: number): number {
  return Math.floor(planes / 4);
}

const shortcutParams = uniforms({ total: 'u32', step: 'u32' });
const reluParams = uniforms({ n: 'u32', step: 'u32' });

function launch(gpu: Gpu, bwd: boolean, src: Tensor, dst: Tensor, d: readonly number[]): void {
  const [c, h, w, co, oh, ow, pad] = d;
  const { workgroups, step } = elementGrid(gpu, dst.size);
  gpu.dispatch({
    kernel: {
      name: bwd ? 'shortcut-a.bwd' : 'shortcut-a',
      template: shortcutWgsl,
      defines: { WG: tun.workgroupSize, BWD: bwd, C: c, H: h, W: w, CO: co, OH: oh, OW: ow, PAD: pad },
      params: shortcutParams,
    },
    buffers: [src, dst],
    uniforms: { total: dst.size, step },
    workgroups,
  });
}

/**
 * CIFAR ResNet option-A shortcut: x [N, C, H, W] subsampled at even rows and columns and padded with
 * floor(planes / 4) zero channels on each side -> [N, C + 2 floor(planes / 4), ceil(H / 2), ceil(W / 2)].
 */
export function shortcutA(gpu: Gpu, x: Tensor, planes: number): Tensor {
  const op = 'shortcutA';
  expectDType(op, x, 'f32');
  if (x.shape.length !== 4) throw new ShapeError(op, `expected [N, C, H, W], got [${x.shape.join(', ')}]`);
  if (!Number.isInteger(planes) || planes < 0)
    throw new ShapeError(op, `planes must be a count, got ${planes}`);
  const [n, c, h, w] = x.shape;
  const pad = shortcutAPad(planes);
  const co = c + 2 * pad;
  const [oh, ow] = [Math.ceil(h / 2), Math.ceil(w / 2)];
  const out = gpu.empty([n, co, oh, ow]);
  if (out.size > 0) launch(gpu, false, x, out, [c, h, w, co, oh, ow, pad]);
  return out;
}

/** dx of shortcutA: the gradient of the kept channels at the even positions, zero elsewhere. */
export function shortcutABackward(
  gpu: Gpu,
  dy: Tensor,
  inputShape: readonly number[],
  planes: number,
): Tensor {
  const op = 'shortcutABackward';
  expectDType(op, dy, 'f32');
  if (inputShape.length !== 4)
    throw new ShapeError(op, `input shape must be [N, C, H, W], got [${inputShape.join(', ')}]`);
  const [n, c, h, w] = inputShape;
  const pad = shortcutAPad(planes);
  const co = c + 2 * pad;
  const [oh, ow] = [Math.ceil(h / 2), Math.ceil(w / 2)];
  if (!sameShape(dy.shape, [n, co, oh, ow])) {
    throw new ShapeError(op, `dy must be [${[n, co, oh, ow].join(', ')}], got [${dy.shape.join(', ')}]`);
  }
  const dx = gpu.empty(inputShape);
  if (dx.size > 0) launch(gpu, true, dy, dx, [c, h, w, co, oh, ow, pad]);
  return dx;
}

/**
 * ReLU backward: dx = dy where y > 0, else 0 (y: the ReLU's output or input). The backward of a residual
 * add y = a + b needs no kernel: da = db = dy.
 */
export function reluBackward(gpu: Gpu, dy: Tensor, y: Tensor): Tensor {
  const op = 'reluBackward';
  expectDType(op, dy, 'f32');
  expectDType(op, y, 'f32');
  if (!sameShape(dy.shape, y.shape)) {
    throw new ShapeError(op, `dy [${dy.shape.join(', ')}] and y [${y.shape.join(', ')}] differ`);
  }
  const dx = gpu.empty(dy.shape);
  if (dx.size === 0) return dx;
  const { workgroups, step } = elementGrid(gpu, dx.size);
  gpu.dispatch({
    kernel: {
      name: 'relu-backward',
      template: reluBackwardWgsl,
      defines: { WG: tun.workgroupSize },
      params: reluParams,
    },
    buffers: [dy, y, dx],
    uniforms: { n: dx.size, step },
    workgroups,
  });
  return dx;
}
