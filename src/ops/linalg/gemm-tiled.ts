import activationWgsl from '../../../shaders/activation.wgsl';
import tiledWgsl from '../../../shaders/gemm-tiled.wgsl';
import epilogueWgsl from '../../../shaders/lib/gemm-epilogue.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { gpuKernels } from '../../gpu/kernel-choice.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { gemm as gemmTun, gemmTiled as tun } from '../../tunables.js';
import { type Activation, activationDefines } from '../elementwise/activation.js';
import type { GemmShape } from './gemm-config.js';
import { foldSplitK } from './gemm-splitk.js';

/** The output transform both GEMM kernels end with. */
export const gemmIncludes = { 'gemm-epilogue': epilogueWgsl };

const params = uniforms({
  m: 'u32',
  n: 'u32',
  k: 'u32',
  splits: 'u32',
  kPerSplit: 'u32',
  strideA: 'u32',
  strideB: 'u32',
  alpha: 'f32',
});

/** Tile choice of the workgroup-memory GEMM (shaders/gemm-tiled.wgsl). */
export interface TiledGemmTiles {
  /** Invocations along N and M. */
  wgx: number;
  wgy: number;
  /** Rows and columns of C per invocation (multiples of 4). */
  tm: number;
  tn: number;
  /** K per staged step (a multiple of 4). */
  bk: number;
  /** K slices (1: no split-K) and K per slice (a multiple of 4). */
  splits: number;
  kPerSplit: number;
}

/** Whether a shape is big enough for the tiled kernel (else the plain kernel's skinny tiles win). */
export function tiledGemmFits(shape: GemmShape): boolean {
  return shape.m >= tun.minRows && shape.n >= tun.minCols;
}

/**
 * The tiled kernel's tiles for a shape: large tiles when C has enough of them, else small; split-K when
 * even small tiles leave the GPU idle and K is long (the plain kernel's rule, gemm-config.ts).
 */
export function chooseTiledGemm(shape: GemmShape): TiledGemmTiles {
  const count = (t: { wgx: number; wgy: number; tm: number; tn: number }) =>
    Math.ceil(shape.m / (t.wgy * t.tm)) * Math.ceil(shape.n / (t.wgx * t.tn)) * shape.batch;
  const cfg = count(tun.large) >= tun.largeMinTiles ? tun.large : tun.small;
  const tiles = count(cfg);
  const busy = gemmTun.busyWorkgroups.gpu / 2;
  let splits = 1;
  if (tiles < busy && shape.k >= 2 * gemmTun.minSplitK) {
    splits = Math.min(gemmTun.maxSplits, Math.ceil(busy / tiles), Math.floor(shape.k / gemmTun.minSplitK));
  }
  const kPerSplit = Math.ceil(shape.k / splits / 4) * 4;
  return { ...cfg, splits: Math.max(1, Math.ceil(shape.k / kPerSplit)), kPerSplit };
}

/** What gemm() has checked and allocated for one call. */
export interface TiledOperands {
  a: Tensor;
  b: Tensor;
  out: Tensor;
  bias?: Tensor;
  biasAxis: 'n' | 'm';
  activation: Activation;
  alpha: number;
  transA: boolean;
  transB: boolean;
  tiles: TiledGemmTiles;
}

/** Sizes, batch strides (0: shared by every batch entry) and storage types of one call. */
export interface TiledGeometry {
  m: number;
  n: number;
  k: number;
  batch: number;
  strideA: number;
  strideB: number;
  f16: boolean;
  outDType: 'f32' | 'f16';
}

/**
 * Records the tiled GEMM into `out` and returns it. With tiles.splits > 1 the main launch writes raw
 * partial sums per K slice and gemm-splitk.wgsl folds them in order and applies the epilogue, as for the
 * plain kernel.
 */
export function gemmTiled(gpu: Gpu, o: TiledOperands, g: TiledGeometry): Tensor {
  const t = o.tiles;
  const split = t.splits > 1;
  const bias = split ? undefined : o.bias;
  const target = split ? gpu.empty([g.batch * t.splits, g.m, g.n], 'f32', 'gemm partials') : o.out;
  gpu.dispatch({
    kernel: {
      name: 'gemm.tiled',
      template: tiledWgsl + activationWgsl,
      includes: gemmIncludes,
      defines: {
        WGX: t.wgx,
        WGY: t.wgy,
        TM: t.tm,
        TN: t.tn,
        BK: t.bk,
        TRANS_A: o.transA,
        TRANS_B: o.transB,
        // vec4 loads along each operand's contiguous axis when that axis is a multiple of 4.
        A_VEC: (o.transA ? g.m : g.k) % 4 === 0,
        B_VEC: (o.transB ? g.k : g.n) % 4 === 0,
        C_VEC: g.n % 4 === 0,
        SPLIT: split,
        F16: g.f16,
        ELEM_A: o.a.dtype,
        ELEM_B: o.b.dtype,
        OUT: split ? 'f32' : g.outDType,
        ...biasDefines(bias ? o.biasAxis : undefined),
        ...activationDefines(split ? 'none' : o.activation),
        BIND_C: bias ? 3 : 2,
        BIND_P: bias ? 4 : 3,
      },
      params,
    },
    buffers: bias ? [o.a, o.b, bias, target] : [o.a, o.b, target],
    uniforms: {
      m: g.m,
      n: g.n,
      k: g.k,
      splits: t.splits,
      kPerSplit: t.kPerSplit,
      ...strides(g),
      alpha: o.alpha,
    },
    workgroups: [Math.ceil(g.n / (t.wgx * t.tn)), Math.ceil(g.m / (t.wgy * t.tm)), g.batch * t.splits],
  });
  if (!split) return o.out;

  foldSplitK(gpu, target, o.out, {
    ...{ m: g.m, n: g.n, batch: g.batch, splits: t.splits, alpha: o.alpha },
    ...{ bias: o.bias, biasAxis: o.biasAxis, activation: o.activation, outDType: g.outDType },
  });
  target.dispose();
  return o.out;
}

function strides(g: TiledGeometry) {
  return { strideA: g.strideA, strideB: g.strideB };
}

function biasDefines(axis: 'n' | 'm' | undefined) {
  return { HAS_BIAS: axis !== undefined, BIAS_N: axis === 'n', BIAS_M: axis === 'm' };
}

/** Per-call overrides of the kernel choice (GemmOptions). */
export interface GemmVariantOptions {
  /** Force the plain (lavapipe-tuned) or the tiled kernel; default: by gpu.kernels and the shape. */
  variant?: 'plain' | 'tiled';
  /** Plain kernel tiles given: the plain kernel. */
  tiles?: unknown;
  /** Tiled kernel tiles given: the tiled kernel with them. */
  tiledTiles?: TiledGemmTiles;
}

/** The tiled kernel's tiles when it runs for this call, else undefined (the plain kernel runs). */
export function tiledGemmFor(
  kernels: Gpu['kernels'],
  isCpu: boolean,
  shape: GemmShape,
  opts: GemmVariantOptions,
): TiledGemmTiles | undefined {
  if (opts.tiledTiles) return opts.tiledTiles;
  if (opts.variant === 'plain' || opts.tiles) return undefined;
  if (opts.variant === 'tiled') return chooseTiledGemm(shape);
  return gpuKernels(kernels, isCpu) && tiledGemmFits(shape) ? chooseTiledGemm(shape) : undefined;
}
