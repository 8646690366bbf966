import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { conv2dHalo as tun } from '../../tunables.js';
import { grid2d } from '../util.js';
import { convBuffers, type Epilogue } from './conv2d-epilogue.js';
import { HALO_LANES, type HaloKernel, haloConvWgsl } from './conv2d-halo-wgsl.js';
import { tapConvParams } from './conv2d-shape.js';

/** Tiles of the halo-sharing 3x3 kernel (conv2d-halo-wgsl.ts): TM channels x OHT rows x OWT columns. */
export interface HaloTiles {
  tm: number;
  oht: number;
  owt: number;
}

/** What the halo kernel needs to know of a stride-1, padding-1, 3x3 launch. */
export interface HaloLaunch {
  n: number;
  cin: number;
  cout: number;
  /** Output (= input) height and width. */
  h: number;
  w: number;
  sCo: number;
  sCi: number;
  tapBase: number;
  tapStepH: number;
  tapStepW: number;
}

/** Whether the adapter runs every 8-invocation workgroup as exactly one subgroup of 8 (lavapipe on AVX2). */
export function haloSubgroups(gpu: Gpu): boolean {
  return (
    gpu.features.has('subgroups') &&
    gpu.adapter.subgroupMinSize === HALO_LANES &&
    gpu.adapter.subgroupMaxSize === HALO_LANES
  );
}

/** OW / OWT must divide the subgroup so that a lane's row neighbours are lanes +-1 and +-OW/OWT. */
function fits(size: number, tile: number): boolean {
  return size % tile === 0 && HALO_LANES % (size / tile) === 0;
}

/**
 * The halo kernel's tiles for a same-size 3x3 convolution of h x w with `cout` output channels, or
 * undefined when no tile divides the image the way the kernel needs (then the general kernel runs).
 */
export function chooseHaloTiles(shape: { cout: number; h: number; w: number }): HaloTiles | undefined {
  const owt = tun.owt.find((t) => fits(shape.w, t));
  if (owt === undefined) return undefined;
  const oht = tun.oht.find((t) => shape.h % t === 0) ?? 1;
  const tm = shape.cout <= HALO_LANES ? HALO_LANES : tun.tm;
  return { tm, oht, owt };
}

/** Checks forced tiles against the shape (tests and benchmarks choose their own). */
function checkHaloTiles(t: HaloTiles, h: number, w: number): void {
  const ok =
    t.tm > 0 &&
    t.tm % HALO_LANES === 0 &&
    (t.owt === 4 || t.owt === 8) &&
    fits(w, t.owt) &&
    t.oht > 0 &&
    h % t.oht === 0;
  if (!ok) {
    throw new ShapeError(
      'conv2d',
      `halo tiles ${JSON.stringify(t)} do not fit a ${h}x${w} output (TM a multiple of ${HALO_LANES}, ` +
        `OWT 4 or 8 with W / OWT dividing ${HALO_LANES}, OHT dividing H)`,
    );
  }
}

/**
 * The halo kernel's tiles when it can run this launch (3x3, stride 1, padding 1, subgroups of exactly 8
 * lanes, a tile that divides the image, at least `minMacs` multiply-adds), else undefined. Forced `tiles`
 * pick the general kernel; forced `halo` tiles that cannot run are an error.
 */
export function haloFor(
  gpu: Gpu,
  d: {
    n: number;
    cin: number;
    kh: number;
    kw: number;
    stride: number;
    padH: number;
    padW: number;
    cout: number;
    oh: number;
    ow: number;
  },
  force: { tiles?: object; halo?: HaloTiles },
): HaloTiles | undefined {
  if (force.tiles) return undefined;
  const same = d.kh === 3 && d.kw === 3 && d.stride === 1 && d.padH === 1 && d.padW === 1;
  if (force.halo) {
    if (!same || !haloSubgroups(gpu)) {
      throw new ShapeError(
        'conv2d',
        'the halo kernel needs a 3x3 stride-1 padding-1 convolution and subgroups of 8',
      );
    }
    checkHaloTiles(force.halo, d.oh, d.ow);
    return force.halo;
  }
  // Its specialisations take seconds to compile: only worth it for launches that take longer than that.
  const big = d.n * d.cin * d.cout * d.oh * d.ow * 9 >= tun.minMacs;
  return same && big && haloSubgroups(gpu) ? chooseHaloTiles({ cout: d.cout, h: d.oh, w: d.ow }) : undefined;
}

/** One launch of the halo kernel: out [n, cout, h, w] = conv(x, taps) + bias + residual, then ReLU. */
export function haloLaunch(
  gpu: Gpu,
  x: Tensor,
  weight: Tensor,
  epi: Epilogue,
  out: Tensor,
  d: HaloLaunch,
  tiles: HaloTiles,
): void {
  const positions = d.n * (d.h / tiles.oht) * (d.w / tiles.owt);
  const coBlocks = Math.ceil(d.cout / tiles.tm);
  const [gx, gy] = grid2d(Math.ceil(positions / HALO_LANES) * coBlocks);
  const kernel: HaloKernel = {
    tm: tiles.tm,
    oht: tiles.oht,
    owt: tiles.owt,
    h: d.h,
    w: d.w,
    hasBias: !!epi.bias,
    residual: !!epi.residual,
    relu: !!epi.relu,
    coTail: d.cout % tiles.tm !== 0,
  };
  const { cin, cout, sCo, sCi, tapBase, tapStepH, tapStepW } = d;
  gpu.dispatch({
    kernel: { name: 'conv2d-halo', template: haloConvWgsl, defines: kernel, params: tapConvParams },
    buffers: convBuffers(x, weight, epi, out),
    uniforms: { cin, cout, positions, coBlocks, gridX: gx, sCo, sCi, tapBase, tapStepH, tapStepW },
    workgroups: [gx, gy],
  });
}
