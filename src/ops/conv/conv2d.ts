import conv2dWgsl from '../../../shaders/conv2d.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { conv2d as tun } from '../../tunables.js';
import { channelSum } from '../norm/batchnorm.js';
import { expectDType, grid2d, sameShape } from '../util.js';
import { convBuffers, type Epilogue } from './conv2d-epilogue.js';
import { type HaloTiles, haloFor, haloLaunch } from './conv2d-halo.js';
import { type PlaneTiles, planeFor, planeLaunch } from './conv2d-plane.js';
import {
  type Conv2dGeometry,
  checkGrad,
  geometry,
  geometryParams,
  includes,
  shuffleWidth,
} from './conv2d-shape.js';
import { conv2dBackwardWeight } from './conv2d-wgrad.js';

/** conv2d.wgsl's uniforms: the geometry, the work split, the weight taps and the output plane (its header). */
const convParams = uniforms({
  ...geometryParams,
  segs: 'u32',
  sCo: 'u32',
  sCi: 'u32',
  positions: 'u32',
  coBlocks: 'u32',
  gridX: 'u32',
  outStep: 'u32',
  tapBase: 'i32',
  tapStepH: 'i32',
  tapStepW: 'i32',
  outH: 'u32',
  outW: 'u32',
  outOffH: 'u32',
  outOffW: 'u32',
});

export interface Conv2dOptions extends Conv2dGeometry {
  /** [Cout], added to every output of its channel. */
  bias?: Tensor;
  /** Added to the output before the ReLU (same shape as the output): a ResNet block's shortcut. */
  residual?: Tensor;
  /** ReLU after bias and residual. With a batch norm folded into weight and bias, conv-BN-add-ReLU is one pass. */
  relu?: boolean;
  /** Override the tile choice (benchmarks and tests); runs the general kernel. */
  tiles?: ConvTiles;
  /** Run the halo-sharing 3x3 kernel with these tiles (benchmarks and tests); see conv2d-halo.ts. */
  halo?: HaloTiles;
  /** Run the whole-plane kernel with these tiles (benchmarks and tests); see conv2d-plane.ts. */
  plane?: PlaneTiles;
}

export interface ConvTiles {
  /** Invocations per workgroup. */
  lanes: number;
  /** Output channels per invocation. */
  tm: number;
  /** Consecutive outputs of one row per invocation. */
  owt: number;
  /** Share weight loads through subgroupShuffle (default: when the device has subgroups; see shuffleWidth). */
  subgroups?: boolean;
}

/** Output channels, output rows and columns an invocation tiles over (the shape the tile choice sees). */
export interface ConvShape {
  cout: number;
  oh: number;
  ow: number;
}

/**
 * Picks the tiles of the implicit-GEMM kernel: a pure function of the output shape and the kind of
 * adapter. TM shrinks for few channels; OWT is the largest power of two up to the tuned value that
 * wastes no more than a quarter of a row.
 */
export function chooseConvTiles(shape: ConvShape, isCpu: boolean): ConvTiles {
  const cfg = isCpu ? tun.cpu : tun.gpu;
  let tm = cfg.tm;
  while (tm > 1 && tm / 2 >= shape.cout) tm /= 2;
  let owt = cfg.owt;
  while (owt > 1 && Math.ceil(shape.ow / owt) * owt > shape.ow * 1.25) owt /= 2;
  return { lanes: cfg.lanes, tm, owt };
}

/** One launch of shaders/conv2d.wgsl: the values of its uniforms (convParams) and defines; its header has the maths. */
interface Launch {
  n: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  oh: number;
  ow: number;
  kh: number;
  kw: number;
  stride: number;
  padH: number;
  padW: number;
  sCo: number;
  sCi: number;
  tapBase: number;
  tapStepH: number;
  tapStepW: number;
  /** The output buffer's plane, and where this launch's outputs go in it. */
  outH: number;
  outW: number;
  outOffH: number;
  outOffW: number;
  outStep: number;
}

function launch(
  gpu: Gpu,
  x: Tensor,
  w: Tensor,
  epi: Epilogue,
  out: Tensor,
  d: Launch,
  tiles: ConvTiles,
): void {
  const segs = Math.ceil(d.ow / tiles.owt);
  const positions = d.n * d.oh * segs;
  const coBlocks = Math.ceil(d.cout / tiles.tm);
  const [gx, gy] = grid2d(Math.ceil(positions / tiles.lanes) * coBlocks);
  const sw = shuffleWidth(gpu, tiles.tm, tiles.subgroups);
  const buffers = convBuffers(x, w, epi, out);
  gpu.dispatch({
    kernel: {
      name: 'conv2d',
      template: conv2dWgsl,
      defines: {
        LANES: tiles.lanes,
        TM: tiles.tm,
        OWT: tiles.owt,
        KH: d.kh,
        KW: d.kw,
        STRIDE: d.stride,
        HAS_BIAS: !!epi.bias,
        RESIDUAL: !!epi.residual,
        RELU: !!epi.relu,
        SUBGROUPS: sw > 0,
        SW: Math.max(sw, 1),
        VEC: tiles.owt % 4 === 0,
        OUT_VEC4: tiles.owt % 4 === 0 && d.outStep === 1 && d.outOffW === 0 && d.outW % 4 === 0,
        BIND_RES: epi.residual ? buffers.length - 2 : 0,
        BIND_OUT: buffers.length - 1,
        BIND_P: buffers.length,
      },
      params: convParams,
      includes,
    },
    buffers,
    uniforms: {
      batch: d.n,
      cin: d.cin,
      h: d.h,
      w: d.w,
      cout: d.cout,
      oh: d.oh,
      ow: d.ow,
      padH: d.padH,
      padW: d.padW,
      segs,
      sCo: d.sCo,
      sCi: d.sCi,
      positions,
      coBlocks,
      gridX: gx,
      outStep: d.outStep,
      tapBase: d.tapBase,
      tapStepH: d.tapStepH,
      tapStepW: d.tapStepW,
      outH: d.outH,
      outW: d.outW,
      outOffH: d.outOffH,
      outOffW: d.outOffW,
    },
    workgroups: [gx, gy],
  });
}

/**
 * 2-D convolution like PyTorch's F.conv2d (groups = 1, dilation = 1): x [N, Cin, H, W], weight
 * [Cout, Cin, KH, KW], optional bias [Cout] -> [N, Cout, OH, OW] with OH = floor((H + 2 padH - KH) / stride) + 1.
 */
export function conv2d(gpu: Gpu, x: Tensor, weight: Tensor, opts: Conv2dOptions = {}): Tensor {
  expectDType('conv2d', x, 'f32');
  expectDType('conv2d', weight, 'f32');
  const g = geometry('conv2d', x.shape, weight.shape, opts);
  if (opts.bias) {
    if (opts.bias.dtype !== 'f32' || opts.bias.size !== g.cout || opts.bias.shape.length !== 1) {
      throw new ShapeError(
        'conv2d',
        `bias must be f32 [${g.cout}], got ${opts.bias.dtype} [${opts.bias.shape.join(', ')}]`,
      );
    }
  }
  const outShape = [g.n, g.cout, g.oh, g.ow];
  const res = opts.residual;
  if (res && (res.dtype !== 'f32' || !sameShape(res.shape, outShape))) {
    throw new ShapeError(
      'conv2d',
      `residual must be f32 [${outShape.join(', ')}] like the output, got ${res.dtype} [${res.shape.join(', ')}]`,
    );
  }
  const out = gpu.empty(outShape);
  if (out.size === 0) return out;
  if (g.cin === 0) throw new ShapeError('conv2d', 'input has 0 channels');
  const taps = { sCo: g.cin * g.kh * g.kw, sCi: g.kh * g.kw, tapBase: 0, tapStepH: g.kw, tapStepW: 1 };
  // The halo kernel where its tiles fit (as fast at 8x8), else the plane kernel on small planes.
  const halo = opts.plane ? undefined : haloFor(gpu, g, opts);
  if (halo) {
    haloLaunch(gpu, x, weight, opts, out, { ...g, ...taps, h: g.oh, w: g.ow }, halo);
    return out;
  }
  const plane = planeFor(gpu, g, opts);
  if (plane) {
    planeLaunch(gpu, x, weight, opts, out, { ...g, ...taps }, plane);
    return out;
  }
  const tiles = opts.tiles ?? chooseConvTiles(g, gpu.adapter.isCpu);
  const plain = { outH: g.oh, outW: g.ow, outOffH: 0, outOffW: 0, outStep: 1 };
  launch(gpu, x, weight, opts, out, { ...g, ...taps, ...plain }, tiles);
  return out;
}

export interface Conv2dBackwardOptions extends Conv2dGeometry {
  /** Compute dx (default true; the first layer of a network does not need it). */
  inputGrad?: boolean;
  /** Compute db = sum of dy over batch and positions (default false). */
  biasGrad?: boolean;
}

export interface Conv2dGrads {
  dx?: Tensor;
  dw: Tensor;
  db?: Tensor;
}

/** The taps of one output phase of the input gradient along one axis (see conv2dBackwardInput). */
export function dxPhase(a: number, k: number, stride: number, pad: number, inSize: number) {
  const k0 = (a + pad) % stride;
  const taps = Math.max(0, Math.ceil((k - k0) / stride));
  const shift = (a + pad - k0) / stride;
  const outputs = Math.max(0, Math.ceil((inSize - a) / stride));
  return { k0, taps, pad: taps - 1 - shift, outputs };
}

/**
 * dx of conv2d: the transposed convolution of dy with the weights. Input positions are split by phase
 * (ih % stride, iw % stride); dx at one phase is a stride-1 convolution of dy with that phase's taps
 * (every stride-th weight, flipped, channels swapped), run by the forward kernel and written to every
 * stride-th position. A phase no tap reaches (a 1x1 kernel with stride 2, say) is zero.
 * `inputShape` is the forward input's [N, Cin, H, W] (H and W are not recoverable from dy when the stride
 * does not divide them).
 */
export function conv2dBackwardInput(
  gpu: Gpu,
  dy: Tensor,
  weight: Tensor,
  inputShape: readonly number[],
  opts: Conv2dGeometry & { tiles?: ConvTiles; halo?: HaloTiles; plane?: PlaneTiles } = {},
): Tensor {
  const op = 'conv2d.backwardInput';
  expectDType(op, weight, 'f32');
  const g = geometry(op, inputShape, weight.shape, opts);
  checkGrad(op, g, dy);
  const s = g.stride;
  const phases: { h: ReturnType<typeof dxPhase>; w: ReturnType<typeof dxPhase>; ah: number; aw: number }[] =
    [];
  for (let ah = 0; ah < s; ah++) {
    for (let aw = 0; aw < s; aw++) {
      phases.push({ ah, aw, h: dxPhase(ah, g.kh, s, g.padH, g.h), w: dxPhase(aw, g.kw, s, g.padW, g.w) });
    }
  }
  const empty = phases.some((p) => p.h.outputs * p.w.outputs > 0 && p.h.taps * p.w.taps === 0);
  const dx = empty || g.cout === 0 ? gpu.zeros([g.n, g.cin, g.h, g.w]) : gpu.empty([g.n, g.cin, g.h, g.w]);
  if (dx.size === 0 || g.cout === 0) return dx;
  for (const { ah, aw, h, w } of phases) {
    if (h.outputs * w.outputs === 0 || h.taps * w.taps === 0) continue;
    const taps = {
      sCo: g.kh * g.kw,
      sCi: g.cin * g.kh * g.kw,
      tapBase: (h.k0 + s * (h.taps - 1)) * g.kw + w.k0 + s * (w.taps - 1),
      tapStepH: -s * g.kw,
      tapStepW: -s,
    };
    const phase = { kh: h.taps, kw: w.taps, stride: s, padH: h.pad, padW: w.pad, cout: g.cin };
    const onDy = { ...phase, n: g.n, cin: g.cout, h: g.oh, w: g.ow, oh: h.outputs, ow: w.outputs };
    const halo = opts.plane ? undefined : haloFor(gpu, onDy, opts);
    if (halo) {
      haloLaunch(gpu, dy, weight, {}, dx, { ...onDy, ...taps, h: g.h, w: g.w }, halo);
      continue;
    }
    // The plane kernel writes every output position: only the single phase of a stride-1 convolution.
    const plane = s === 1 ? planeFor(gpu, onDy, opts) : undefined;
    if (plane) {
      planeLaunch(gpu, dy, weight, {}, dx, { ...onDy, ...taps }, plane);
      continue;
    }
    const tiles =
      opts.tiles ?? chooseConvTiles({ cout: g.cin, oh: h.outputs, ow: w.outputs }, gpu.adapter.isCpu);
    launch(
      gpu,
      dy,
      weight,
      {},
      dx,
      {
        n: g.n,
        cin: g.cout,
        h: g.oh,
        w: g.ow,
        cout: g.cin,
        oh: h.outputs,
        ow: w.outputs,
        kh: h.taps,
        kw: w.taps,
        stride: 1,
        padH: h.pad,
        padW: w.pad,
        ...taps,
        outH: g.h,
        outW: g.w,
        outOffH: ah,
        outOffW: aw,
        outStep: s,
      },
      tiles,
    );
  }
  return dx;
}

/** db [Cout] of conv2d: dy summed over batch and positions (deterministic). */
export function conv2dBackwardBias(gpu: Gpu, dy: Tensor): Tensor {
  if (dy.shape.length !== 4) {
    throw new ShapeError('conv2d.backwardBias', `dy must be [N, C, H, W], got [${dy.shape.join(', ')}]`);
  }
  return channelSum(gpu, dy);
}

/** All gradients of conv2d: dx (unless inputGrad is false), dW, and db when biasGrad is set. */
export function conv2dBackward(
  gpu: Gpu,
  x: Tensor,
  weight: Tensor,
  dy: Tensor,
  opts: Conv2dBackwardOptions = {},
): Conv2dGrads {
  const geo = { stride: opts.stride, padding: opts.padding };
  const dw = conv2dBackwardWeight(gpu, x, dy, weight.shape, geo);
  const dx = opts.inputGrad === false ? undefined : conv2dBackwardInput(gpu, dy, weight, x.shape, geo);
  const db = opts.biasGrad ? conv2dBackwardBias(gpu, dy) : undefined;
  return { dx, dw, db };
}
