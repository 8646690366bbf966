import poolWgsl from '../../../shaders/pool.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { cnn as tun } from '../../tunables.js';
import { elementGrid } from '../elementwise/elementwise-grid.js';
import { expectDType } from '../util.js';

const params = uniforms({
  total: 'u32',
  h: 'u32',
  w: 'u32',
  oh: 'u32',
  ow: 'u32',
  k: 'u32',
  stride: 'u32',
  /** Zero padding of the window (maximum pooling). */
  pad: 'u32',
  step: 'u32',
});

export interface MaxPoolOptions {
  /** Square window size. */
  kernel: number;
  /** Default: the kernel size, as PyTorch. */
  stride?: number;
  /** Implicit -inf padding on each side; at most kernel / 2, as PyTorch. */
  padding?: number;
}

export interface MaxPoolResult {
  out: Tensor;
  /**
   * i32 [N, C, OH, OW]: the index ih * W + iw within its input plane of the element each output took
   * (the first maximum in scan order, kh then kw, on ties), what maxPool2dBackward needs.
   */
  indices: Tensor;
}

type PoolMode = 'MAX_FWD' | 'MAX_BWD' | 'AVG_FWD' | 'AVG_BWD';

function dispatchPool(
  gpu: Gpu,
  mode: PoolMode,
  buffers: Tensor[],
  total: number,
  dims: { h: number; w: number; oh: number; ow: number; k: number; stride: number; pad: number },
): void {
  const { workgroups, step } = elementGrid(gpu, total);
  gpu.dispatch({
    kernel: {
      name: `pool.${mode.toLowerCase()}`,
      template: poolWgsl,
      defines: {
        WG: tun.workgroupSize,
        MAX_FWD: mode === 'MAX_FWD',
        MAX_BWD: mode === 'MAX_BWD',
        AVG_FWD: mode === 'AVG_FWD',
      },
      params,
    },
    buffers,
    uniforms: {
      total,
      h: dims.h,
      w: dims.w,
      oh: dims.oh,
      ow: dims.ow,
      k: dims.k,
      stride: dims.stride,
      pad: dims.pad,
      step,
    },
    workgroups,
  });
}

function nchw(op: string, x: Tensor): number[] {
  expectDType(op, x, 'f32');
  if (x.shape.length !== 4) throw new ShapeError(op, `expected [N, C, H, W], got [${x.shape.join(', ')}]`);
  return [...x.shape];
}

function poolGeometry(op: string, shape: readonly number[], o: MaxPoolOptions) {
  const [n, c, h, w] = shape;
  const k = o.kernel;
  const stride = o.stride ?? k;
  const pad = o.padding ?? 0;
  if (!Number.isInteger(k) || k < 1) throw new ShapeError(op, `kernel must be a positive integer, got ${k}`);
  if (!Number.isInteger(stride) || stride < 1) throw new ShapeError(op, `stride must be >= 1, got ${stride}`);
  if (!Number.isInteger(pad) || pad < 0 || pad > k / 2) {
    throw new ShapeError(op, `padding must be between 0 and kernel / 2 = ${k / 2}, got ${pad}`);
  }
  if (h + 2 * pad < k || w + 2 * pad < k) {
    throw new ShapeError(op, `kernel ${k} is larger than the padded input of [${shape.join(', ')}]`);
  }
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - k) / stride) + 1;
  return { n, c, h, w, oh, ow, k, stride, pad };
}

/**
 * Max pooling like PyTorch's F.max_pool2d (ceil_mode false, dilation 1) over x [N, C, H, W]:
 * OH = floor((H + 2 padding - kernel) / stride) + 1. Returns the output and the argmax indices.
 * NaN inputs are not propagated (comparisons with NaN are false).
 */
export function maxPool2d(gpu: Gpu, x: Tensor, opts: MaxPoolOptions): MaxPoolResult {
  const op = 'maxPool2d';
  const g = poolGeometry(op, nchw(op, x), opts);
  const out = gpu.empty([g.n, g.c, g.oh, g.ow]);
  const indices = gpu.empty(out.shape, 'i32');
  if (out.size > 0) dispatchPool(gpu, 'MAX_FWD', [x, out, indices], out.size, g);
  return { out, indices };
}

/** dx of maxPool2d: each dy goes to the input element its output took (summed where windows overlap). */
export function maxPool2dBackward(
  gpu: Gpu,
  dy: Tensor,
  indices: Tensor,
  inputShape: readonly number[],
  opts: MaxPoolOptions,
): Tensor {
  const op = 'maxPool2dBackward';
  expectDType(op, dy, 'f32');
  expectDType(op, indices, 'i32');
  const g = poolGeometry(op, inputShape, opts);
  const want = [g.n, g.c, g.oh, g.ow];
  for (const [name, t] of [
    ['dy', dy],
    ['indices', indices],
  ] as const) {
    if (t.shape.length !== 4 || t.shape.some((d, i) => d !== want[i])) {
      throw new ShapeError(op, `${name} must be [${want.join(', ')}], got [${t.shape.join(', ')}]`);
    }
  }
  const dx = gpu.empty(inputShape);
  if (dx.size > 0) dispatchPool(gpu, 'MAX_BWD', [dy, indices, dx], dx.size, g);
  return dx;
}

/** Global average pooling: x [N, C, H, W] -> [N, C] (reshape to [N, C, 1, 1] if needed). */
export function globalAvgPool2d(gpu: Gpu, x: Tensor): Tensor {
  const op = 'globalAvgPool2d';
  const [n, c, h, w] = nchw(op, x);
  if (h * w === 0) throw new ShapeError(op, `cannot average an empty ${h}x${w} plane`);
  const out = gpu.empty([n, c]);
  if (out.size > 0)
    dispatchPool(gpu, 'AVG_FWD', [x, out], n * c, { h, w, oh: 1, ow: 1, k: 1, stride: 1, pad: 0 });
  return out;
}

/** dx of globalAvgPool2d: dy [N, C] (or [N, C, 1, 1]) spread evenly over each H x W plane. */
export function globalAvgPool2dBackward(gpu: Gpu, dy: Tensor, inputShape: readonly number[]): Tensor {
  const op = 'globalAvgPool2dBackward';
  expectDType(op, dy, 'f32');
  if (inputShape.length !== 4)
    throw new ShapeError(op, `input shape must be [N, C, H, W], got [${inputShape.join(', ')}]`);
  const [n, c, h, w] = inputShape;
  if (dy.size !== n * c) throw new ShapeError(op, `dy must hold [${n}, ${c}], got [${dy.shape.join(', ')}]`);
  const dx = gpu.empty(inputShape);
  if (dx.size > 0)
    dispatchPool(gpu, 'AVG_BWD', [dy, dx], dx.size, { h, w, oh: 1, ow: 1, k: 1, stride: 1, pad: 0 });
  return dx;
}
