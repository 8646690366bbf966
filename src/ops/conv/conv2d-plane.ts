import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { conv2dPlane as tun } from '../../tunables.js';
import { grid2d } from '../util.js';
import { convBuffers, type Epilogue } from './conv2d-epilogue.js';
import { haloSubgroups } from './conv2d-halo.js';
import {
  PLANE_LANES,
  type PlaneGeometry,
  type PlaneKernel,
  planeConvWgsl,
  planeWgradParams,
  planeWgradWgsl,
} from './conv2d-plane-wgsl.js';
import { type Geometry, tapConvParams } from './conv2d-shape.js';

/** Forcing the whole-plane kernels (tests, benchmarks): output channels per invocation, a multiple of 8. */
export interface PlaneTiles {
  tm: number;
}

function geometry(d: Geometry, tm: number): PlaneGeometry {
  const { h, w, oh, ow, kh, kw, stride, padH, padW } = d;
  return { tm, h, w, oh, ow, kh, kw, stride, padH, padW, coTail: d.cout % tm !== 0 };
}

function checkForced(t: PlaneTiles, d: Geometry, what: string): void {
  if (!(t.tm > 0 && t.tm % PLANE_LANES === 0)) {
    throw new ShapeError('conv2d', `${what} tm must be a positive multiple of ${PLANE_LANES}, got ${t.tm}`);
  }
  if (d.oh * d.ow > tun.maxOutputs || d.h * d.w > tun.maxInputs) {
    throw new ShapeError(
      'conv2d',
      `${what} holds at most ${tun.maxOutputs} outputs and ${tun.maxInputs} inputs per plane, ` +
        `got ${d.oh}x${d.ow} from ${d.h}x${d.w}`,
    );
  }
}

/**
 * Small planes, big launches (a specialisation compiles for seconds), subgroups of exactly 8 lanes, stride
 * 1 (the weight-gradient kernel also takes other strides, but only stride 1 was measured).
 */
function fits(gpu: Gpu, d: Geometry): boolean {
  const small = d.oh * d.ow <= tun.maxOutputs && d.h * d.w <= tun.maxInputs;
  const big = d.n * d.cin * d.cout * d.oh * d.ow * d.kh * d.kw >= tun.minMacs;
  return small && big && d.stride === 1 && haloSubgroups(gpu);
}

/**
 * The forward kernel's tiles when it runs this stride-1 launch (forward, or the input gradient of a
 * stride-1 convolution), else undefined. Forced general or halo tiles pick those kernels; forced plane
 * tiles that cannot run are an error.
 */
export function planeFor(
  gpu: Gpu,
  d: Geometry,
  force: { tiles?: object; halo?: object; plane?: PlaneTiles; residual?: object },
): PlaneTiles | undefined {
  if (force.plane) {
    if (!haloSubgroups(gpu) || d.stride !== 1 || force.residual) {
      throw new ShapeError(
        'conv2d',
        'the plane kernel needs a stride-1 launch without a residual and subgroups of 8',
      );
    }
    checkForced(force.plane, d, 'plane kernel');
    return force.plane;
  }
  if (force.tiles || force.halo || force.residual) return undefined;
  return fits(gpu, d) ? { tm: tun.tm } : undefined;
}

/** Tap addressing of one launch (see conv2d.wgsl's header). */
export interface PlaneTaps {
  sCo: number;
  sCi: number;
  tapBase: number;
  tapStepH: number;
  tapStepW: number;
}

/** One launch of the forward kernel: out [n, cout, oh, ow] = conv(x, taps) + bias, then ReLU. */
export function planeLaunch(
  gpu: Gpu,
  x: Tensor,
  weight: Tensor,
  epi: Epilogue,
  out: Tensor,
  d: Geometry & PlaneTaps,
  tiles: PlaneTiles,
): void {
  const coBlocks = Math.ceil(d.cout / tiles.tm);
  const [gx, gy] = grid2d(Math.ceil(d.n / PLANE_LANES) * coBlocks);
  const kernel: PlaneKernel = {
    ...geometry(d, tiles.tm),
    hasBias: !!epi.bias,
    relu: !!epi.relu,
  };
  const { cin, cout, sCo, sCi, tapBase, tapStepH, tapStepW } = d;
  gpu.dispatch({
    kernel: { name: 'conv2d-plane', template: planeConvWgsl, defines: kernel, params: tapConvParams },
    buffers: convBuffers(x, weight, epi, out),
    uniforms: { cin, cout, positions: d.n, coBlocks, gridX: gx, sCo, sCi, tapBase, tapStepH, tapStepW },
    workgroups: [gx, gy],
  });
}

/** The weight-gradient kernel's tiles for this convolution, or undefined (see planeFor). */
export function planeWgradFor(
  gpu: Gpu,
  d: Geometry,
  force: { tiles?: object; plane?: PlaneTiles },
): PlaneTiles | undefined {
  if (force.plane) {
    if (!haloSubgroups(gpu)) throw new ShapeError('conv2d', 'the plane kernel needs subgroups of 8');
    checkForced(force.plane, d, 'plane weight-gradient kernel');
    return force.plane;
  }
  if (force.tiles) return undefined;
  return fits(gpu, d) ? { tm: tun.wgradTm } : undefined;
}

/** One launch of the weight-gradient kernel: P [slices, cout, cin * kh * kw] from x and dy. */
export function planeWgradLaunch(
  gpu: Gpu,
  x: Tensor,
  dy: Tensor,
  part: Tensor,
  d: Geometry & { slices: number; nPerSplit: number },
  tiles: PlaneTiles,
): void {
  gpu.dispatch({
    kernel: {
      name: 'conv2d-plane.wgrad',
      template: planeWgradWgsl,
      defines: geometry(d, tiles.tm),
      params: planeWgradParams,
    },
    buffers: [x, dy, part],
    uniforms: { batch: d.n, cin: d.cin, cout: d.cout, nPerSplit: d.nPerSplit },
    workgroups: [Math.ceil(d.cin / PLANE_LANES), Math.ceil(d.cout / tiles.tm), d.slices],
  });
}
