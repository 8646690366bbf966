import conv2dWgsl from '../../../shaders/conv2d.wgsl';
import wgradWgsl from '../../../shaders/conv2d-wgrad.wgsl';
import windowWgsl from '../../../shaders/lib/conv-window.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { conv2d as tun, conv2dWgrad as wtun } from '../../tunables.js';
import { channelSum } from '../norm/batchnorm.js';
import { foldSlices } from '../reduce/fold.js';
import { expectDType, grid2d, sameShape } from '../util.js';
import { convBuffers, type Epilogue } from './conv2d-epilogue.js';
import { type HaloTiles, haloFor, haloLaunch } from './conv2d-halo.js';

/** The geometry both convolution kernels read (conv2d.wgsl, conv2d-wgrad.wgsl), declared once. */
const geometryParams = {
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

/** The padded input-row load both kernels share. */
const includes = { 'conv-window': windowWgsl };

/** conv2d-wgrad.wgsl's uniforms: the geometry, the batch slice and the (ci, kh) rows. */
const wgradParams = uniforms({ ...geometryParams, nPerSplit: 'u32', rows: 'u32' });

export interface Conv2dGeometry {
  /** Same stride along H and W. */
  stride?: number;
  /** Zero padding: one value for both sides of H and W, or [padH, padW]. */
  padding?: number | readonly [number, number];
}

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
function shuffleWidth(gpu: Gpu, tm: number, want: boolean | undefined): number {
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

interface Geometry {
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
function geometry(
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
  const halo = haloFor(gpu, g, opts);
  if (halo) {
    haloLaunch(gpu, x, weight, opts, out, { ...g, ...taps, h: g.oh, w: g.ow }, halo);
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

function checkGrad(op: string, g: Geometry, dy: Tensor): void {
  expectDType(op, dy, 'f32');
  const want = [g.n, g.cout, g.oh, g.ow];
  if (dy.shape.length !== 4 || dy.shape.some((d, i) => d !== want[i])) {
    throw new ShapeError(
      op,
      `dy must be [${want.join(', ')}] (the forward output), got [${dy.shape.join(', ')}]`,
    );
  }
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
  opts: Conv2dGeometry & { tiles?: ConvTiles; halo?: HaloTiles } = {},
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
    const halo = haloFor(gpu, { ...phase, n: g.n, cin: g.cout, oh: h.outputs, ow: w.outputs }, opts);
    if (halo) {
      haloLaunch(
        gpu,
        dy,
        weight,
        {},
        dx,
        { n: g.n, cin: g.cout, cout: g.cin, h: g.h, w: g.w, ...taps },
        halo,
      );
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

export interface WgradTiles {
  lanes: number;
  tm: number;
  /** Output positions per run (one input window load per run), a multiple of 4. */
  pw: number;
  /** Batch slices, folded in order afterwards. */
  splits: number;
  subgroups?: boolean;
}

/** Tiles and batch slices of the weight-gradient kernel (a pure function, tested on its own). */
export function chooseWgradTiles(
  shape: { n: number; cin: number; cout: number; kh: number },
  isCpu: boolean,
): WgradTiles {
  const cfg = isCpu ? wtun.cpu : wtun.gpu;
  let tm = cfg.tm;
  while (tm > 1 && tm / 2 >= shape.cout) tm /= 2;
  const groups = Math.ceil((shape.cin * shape.kh) / cfg.lanes) * Math.ceil(shape.cout / tm);
  const busy = isCpu ? wtun.busyWorkgroups.cpu : wtun.busyWorkgroups.gpu;
  const splits = Math.max(1, Math.min(shape.n, Math.ceil(busy / groups)));
  return { lanes: cfg.lanes, tm, pw: cfg.pw, splits };
}

/** dW [Cout, Cin, KH, KW] of conv2d from the forward input x and dy; deterministic (batch slices folded in order). */
export function conv2dBackwardWeight(
  gpu: Gpu,
  x: Tensor,
  dy: Tensor,
  weightShape: readonly number[],
  opts: Conv2dGeometry & { tiles?: WgradTiles } = {},
): Tensor {
  const op = 'conv2d.backwardWeight';
  expectDType(op, x, 'f32');
  const g = geometry(op, x.shape, weightShape, opts);
  checkGrad(op, g, dy);
  const dw = gpu.empty([g.cout, g.cin, g.kh, g.kw]);
  if (dw.size === 0) return dw;
  if (g.n === 0 || g.oh * g.ow === 0) return gpu.zeros(dw.shape);
  const t = opts.tiles ?? chooseWgradTiles(g, gpu.adapter.isCpu);
  if (t.pw % 4 !== 0) throw new ShapeError(op, `pw must be a multiple of 4, got ${t.pw}`);
  const splits = Math.min(t.splits, g.n);
  const nPerSplit = Math.ceil(g.n / splits);
  const slices = Math.ceil(g.n / nPerSplit);
  const sw = shuffleWidth(gpu, t.tm, t.subgroups);
  const rows = g.cin * g.kh;
  const part = slices === 1 ? dw : gpu.empty([slices, dw.size], 'f32', 'conv2d.wgrad partials');
  gpu.dispatch({
    kernel: {
      name: 'conv2d.wgrad',
      template: wgradWgsl,
      defines: {
        LANES: t.lanes,
        TM: t.tm,
        PW: t.pw,
        KH: g.kh,
        KW: g.kw,
        STRIDE: g.stride,
        SUBGROUPS: sw > 0,
        SW: Math.max(sw, 1),
        DY_VEC4: g.ow % 4 === 0,
      },
      params: wgradParams,
      includes,
    },
    buffers: [x, dy, part],
    uniforms: {
      batch: g.n,
      cin: g.cin,
      h: g.h,
      w: g.w,
      cout: g.cout,
      oh: g.oh,
      ow: g.ow,
      padH: g.padH,
      padW: g.padW,
      nPerSplit,
      rows,
    },
    workgroups: [Math.ceil(rows / t.lanes), Math.ceil(g.cout / t.tm), slices],
  });
  if (part !== dw) {
    foldSlices(gpu, part, slices, dw);
    part.dispose();
  }
  return dw;
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
