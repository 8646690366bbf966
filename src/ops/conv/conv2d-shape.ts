import windowWgsl from '../../../shaders/lib/conv-window.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { expectDType } from '../util.js';

// What the convolution kernels (conv2d.ts, conv2d-wgrad.ts) share: the checked geometry of a call, the
// uniforms and WGSL snippet of that geometry, and how many lanes share a load by subgroup shuffles.

/** The geometry both convolution kernels read (conv2d.wgsl, conv2d-wgrad.wgsl), declared once. */
export const geometryParams = {
  batch: 'u32',
  cin: 'u32',
  h: 'u32',
  w: 'u32',
  cout: 'u32',
  oh: 'u32',
  ow: 'u32',
  padH: 'i32',
  padW: 'i32',
} as const;

/**
 * The uniforms of the kernels that hold their tile's sizes as constants (conv2d-halo-wgsl.ts,
 * conv2d-plane-wgsl.ts): channels, the launch grid and the tap addressing of conv2d.wgsl.
 */
export const tapConvParams = uniforms({
  cin: 'u32',
  cout: 'u32',
  positions: 'u32',
  coBlocks: 'u32',
  gridX: 'u32',
  sCo: 'u32',
  sCi: 'u32',
  tapBase: 'i32',
  tapStepH: 'i32',
  tapStepW: 'i32',
});

/** The padded input-row load both kernels share. */
export const includes = { 'conv-window': windowWgsl };

export interface Conv2dGeometry {
  /** Same stride along H and W. */
  stride?: number;
  /** Zero padding: one value for both sides of H and W, or [padH, padW]. */
  padding?: number | readonly [number, number];
}

/** The smallest subgroup the device may run (0 without the subgroups feature). */
export function subgroupMinSize(gpu: Gpu): number {
  if (!gpu.features.has('subgroups')) return 0;
  const info = (gpu.device as { adapterInfo?: { subgroupMinSize?: number } }).adapterInfo;
  return info?.subgroupMinSize ?? 4;
}

/**
 * Lanes that share one load of per-channel values through subgroupShuffle: min(tm, subgroup size), which
 * must divide tm; 0 when subgroups are off or unavailable.
 */
export function shuffleWidth(gpu: Gpu, tm: number, want: boolean | undefined): number {
  const size = subgroupMinSize(gpu);
  const sw = Math.min(tm, size);
  const ok = sw > 0 && tm % sw === 0;
  if (want && !ok) throw new ShapeError('conv2d', `tm ${tm} cannot share loads across subgroups of ${size}`);
  return want === false || !ok ? 0 : sw;
}

function pair(name: string, v: number | readonly [number, number]): [number, number] {
  const [a, b] = typeof v === 'number' ? [v, v] : v;
  if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0) {
    throw new ShapeError('conv2d', `${name} must be non-negative integers, got ${JSON.stringify(v)}`);
  }
  return [a, b];
}

export interface Geometry {
  n: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  kh: number;
  kw: number;
  stride: number;
  padH: number;
  padW: number;
  oh: number;
  ow: number;
}

/** Validates x [N, Cin, H, W] against a weight shape [Cout, Cin, KH, KW] and works out the output size. */
export function geometry(
  op: string,
  xShape: readonly number[],
  wShape: readonly number[],
  g: Conv2dGeometry,
): Geometry {
  if (xShape.length !== 4) throw new ShapeError(op, `input must be [N, C, H, W], got [${xShape.join(', ')}]`);
  if (wShape.length !== 4) {
    throw new ShapeError(op, `weight must be [Cout, Cin, KH, KW], got [${wShape.join(', ')}]`);
  }
  const [n, cin, h, w] = xShape;
  const [cout, wcin, kh, kw] = wShape;
  if (wcin !== cin) {
    throw new ShapeError(
      op,
      `input has ${cin} channels but weight [${wShape.join(', ')}] expects ${wcin} (groups are not supported)`,
    );
  }
  const stride = g.stride ?? 1;
  if (!Number.isInteger(stride) || stride < 1) throw new ShapeError(op, `stride must be >= 1, got ${stride}`);
  const [padH, padW] = pair('padding', g.padding ?? 0);
  if (kh < 1 || kw < 1) throw new ShapeError(op, `kernel must be at least 1x1, got ${kh}x${kw}`);
  const oh = Math.floor((h + 2 * padH - kh) / stride) + 1;
  const ow = Math.floor((w + 2 * padW - kw) / stride) + 1;
  if (h + 2 * padH < kh || w + 2 * padW < kw) {
    throw new ShapeError(
      op,
      `kernel ${kh}x${kw} is larger than the padded input ${h + 2 * padH}x${w + 2 * padW} of [${xShape.join(', ')}]`,
    );
  }
  return { n, cin, h, w, cout, kh, kw, stride, padH, padW, oh, ow };
}

export function checkGrad(op: string, g: Geometry, dy: Tensor): void {
  expectDType(op, dy, 'f32');
  const want = [g.n, g.cout, g.oh, g.ow];
  if (dy.shape.length !== 4 || dy.shape.some((d, i) => d !== want[i])) {
    throw new ShapeError(
      op,
      `dy must be [${want.join(', ')}] (the forward output), got [${dy.shape.join(', ')}]`,
    );
  }
}
