import attentionWgsl from '../../../shaders/attention.wgsl';
import dkdvWgsl from '../../../shaders/attention-dkdv.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { attention as tun } from '../../tunables.js';
import { expectDType } from '../util.js';
import { attentionDelta } from './attention-delta.js';
import {
  type AttentionGeometry,
  attentionFields,
  attentionIncludes,
  attentionValues,
} from './attention-params.js';
import {
  type FlashVariantOptions,
  flashAttention,
  flashAttentionBackward,
  flashFor,
} from './flash-attention.js';

export type AttentionLayout = 'bhtd' | 'bthd';

/** Tile choice for the attention kernels (see shaders/attention.wgsl). */
export interface AttentionTiles {
  /** Invocations per workgroup; with `shuffle`, the subgroup size. Key / query blocks are 4 * lanes. */
  lanes: number;
  /** Forward and dq: query rows per workgroup = rows * lanes. */
  rows: number;
  /** dk / dv: key rows per workgroup = keyRows * lanes. */
  keyRows: number;
  /** Exchange rows by subgroupShuffle (lanes must be the fixed subgroup size), else by workgroup memory. */
  shuffle: boolean;
}

export interface AttentionOptions extends FlashVariantOptions {
  /**
   * q / out / dq / dOut are [B, Hq, T, D] and k / v / dk / dv [B, Hkv, T, D] ('bhtd', the default), or
   * [B, T, H, D] ('bthd'): what a projection writes as [B * T, H * D], so no transposes are needed.
   */
  layout?: AttentionLayout;
  /** Causal mask (key j visible to query i iff j <= i). Default true. */
  causal?: boolean;
  /** Score scale; default 1 / sqrt(D). */
  scale?: number;
  /** Override the tile choice (tests, benchmarks). */
  tiles?: AttentionTiles;
}

/**
 * Workgroup memory the exchange buffers need without shuffles (bytes, the larger of the two kernels):
 * forward / dq stage G * lanes query slices and the scores; dk / dv stage a block of lanes q and dO rows.
 */
export function attentionWorkgroupBytes(t: AttentionTiles, headDim: number): number {
  if (t.shuffle) return 0;
  const bq = t.rows * t.lanes;
  return Math.max(2 * bq * 16 + bq * t.lanes * 20, 2 * t.lanes * Math.ceil(headDim / 4) * 16);
}

/** The tiles for this adapter: a pure function of its kind, subgroup size and workgroup memory. */
export function chooseAttentionTiles(
  isCpu: boolean,
  fixedSubgroupSize: number,
  headDim: number,
  workgroupBytes: number,
): AttentionTiles {
  const cfg = isCpu ? tun.cpu : tun.gpu;
  if (fixedSubgroupSize >= 4) return { lanes: fixedSubgroupSize, ...cfg, shuffle: true };
  let tiles: AttentionTiles = { lanes: tun.fallbackLanes, ...cfg, shuffle: false };
  while (tiles.lanes > 4 && attentionWorkgroupBytes(tiles, headDim) > workgroupBytes)
    tiles = { ...tiles, lanes: tiles.lanes / 2 };
  return tiles;
}

function geometry(op: string, q: Tensor, k: Tensor, v: Tensor, layout: AttentionLayout): AttentionGeometry {
  for (const t of [q, k, v]) {
    expectDType(op, t, 'f32');
    if (t.shape.length !== 4)
      throw new ShapeError(op, `q, k, v must be 4-D (${layout}), got [${t.shape.join(', ')}]`);
  }
  const split = (s: readonly number[]) =>
    layout === 'bhtd' ? { B: s[0], H: s[1], T: s[2], D: s[3] } : { B: s[0], T: s[1], H: s[2], D: s[3] };
  const a = split(q.shape);
  const b = split(k.shape);
  if (k.shape.join() !== v.shape.join()) {
    throw new ShapeError(op, `k [${k.shape.join(', ')}] and v [${v.shape.join(', ')}] must have one shape`);
  }
  if (a.B !== b.B || a.T !== b.T || a.D !== b.D) {
    throw new ShapeError(
      op,
      `q [${q.shape.join(', ')}] and k [${k.shape.join(', ')}] disagree on batch, length or head dim (${layout})`,
    );
  }
  if (b.H === 0 || a.H % b.H !== 0) {
    throw new ShapeError(op, `query heads (${a.H}) must be a multiple of kv heads (${b.H})`);
  }
  const strides = (H: number): [number, number, number] =>
    layout === 'bhtd' ? [H * a.T * a.D, a.T * a.D, a.D] : [a.T * H * a.D, a.D, H * a.D];
  return { B: a.B, T: a.T, Hq: a.H, Hkv: b.H, D: a.D, qStrides: strides(a.H), kStrides: strides(b.H) };
}

function tilesFor(op: string, gpu: Gpu, g: AttentionGeometry, opts: AttentionOptions): AttentionTiles {
  const tiles =
    opts.tiles ??
    chooseAttentionTiles(
      gpu.adapter.isCpu,
      gpu.fixedSubgroupSize,
      g.D,
      gpu.limits.maxComputeWorkgroupStorageSize,
    );
  if (tiles.shuffle && !gpu.features.has('subgroups'))
    throw new ShapeError(op, 'shuffle tiles need the subgroups feature');
  return tiles;
}

/** Discrete GPUs: the workgroup-memory flash kernels (src/ops/llm/flash-attention.ts) where they fit. */
function flashTiles(op: string, gpu: Gpu, g: AttentionGeometry, opts: AttentionOptions) {
  if (opts.tiles) return undefined; // plain tiles given: the plain kernels
  const bytes = gpu.limits.maxComputeWorkgroupStorageSize;
  return flashFor(op, gpu.kernels, gpu.adapter.isCpu, bytes, g.D, opts);
}

/** Uniforms of attention.wgsl and attention-dkdv.wgsl (one declaration: dkdv reads all but `lanes`). */
const attentionParams = uniforms({
  ...attentionFields,
  /** = LANES, as a uniform: loops over it are not unrolled (compile time). */
  lanes: 'u32',
});

function params(g: AttentionGeometry, blocks: number, causal: boolean, scale: number, lanes: number) {
  return { ...attentionValues(g, blocks, causal, scale), lanes };
}

/** What every attention kernel is specialised on (register arrays are sized by D4). */
function defines(g: AttentionGeometry, t: AttentionTiles) {
  return {
    D: g.D,
    D4: Math.ceil(g.D / 4),
    VEC: g.D % 4 === 0,
    VT: g.D % 4 === 0 ? 'vec4f' : 'f32',
    LANES: t.lanes,
    SHUFFLE: t.shuffle,
  };
}

/** Forward and dq also on G (query row groups) and TN (vec4 output columns per lane). */
function rowDefines(g: AttentionGeometry, t: AttentionTiles) {
  return { ...defines(g, t), G: t.rows, TN: Math.ceil(Math.ceil(g.D / 4) / t.lanes) };
}

/**
 * Scaled dot-product attention with grouped-query heads, tiled with an online softmax (no T x T buffer).
 * Returns the output (q's shape) and the natural log-sum-exp per query row [B, Hq, T] for the backward.
 */
export function attention(
  gpu: Gpu,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: AttentionOptions = {},
): { out: Tensor; lse: Tensor } {
  const layout = opts.layout ?? 'bhtd';
  const g = geometry('attention', q, k, v, layout);
  const flash = flashTiles('attention', gpu, g, opts);
  if (flash)
    return flashAttention(gpu, q, k, v, g, opts.causal ?? true, opts.scale ?? 1 / Math.sqrt(g.D), flash);
  const tiles = tilesFor('attention', gpu, g, opts);
  const out = gpu.empty(q.shape);
  const lse = gpu.empty([g.B, g.Hq, g.T]);
  if (out.size === 0) return { out, lse };
  const causal = opts.causal ?? true;
  const scale = opts.scale ?? 1 / Math.sqrt(g.D);
  const blocks = Math.ceil(g.T / (tiles.lanes * tiles.rows));
  gpu.dispatch({
    kernel: {
      name: 'attention',
      template: attentionWgsl,
      defines: { ...rowDefines(g, tiles), MODE_FWD: true, MODE_DQ: false, LOAD_DO: false },
      params: attentionParams,
      includes: attentionIncludes,
    },
    buffers: [q, k, v, out, lse],
    uniforms: params(g, blocks, causal, scale, tiles.lanes),
    workgroups: [blocks, g.Hq, g.B],
  });
  return { out, lse };
}

/**
 * Gradients of attention from the forward's output and log-sum-exp: dq (one pass over key blocks per query
 * block) and dk, dv (one pass over query heads and query blocks per key block, summing a kv head's query
 * heads in order). Probabilities are recomputed, not stored; no atomics, so results are deterministic.
 */
export function attentionBackward(
  gpu: Gpu,
  dOut: Tensor,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  out: Tensor,
  lse: Tensor,
  opts: AttentionOptions = {},
): { dq: Tensor; dk: Tensor; dv: Tensor } {
  const layout = opts.layout ?? 'bhtd';
  const g = geometry('attentionBackward', q, k, v, layout);
  for (const [name, t] of [
    ['dOut', dOut],
    ['out', out],
  ] as const) {
    if (t.shape.join() !== q.shape.join()) {
      throw new ShapeError(
        'attentionBackward',
        `${name} [${t.shape.join(', ')}] must match q [${q.shape.join(', ')}]`,
      );
    }
  }
  if (lse.size !== g.B * g.Hq * g.T)
    throw new ShapeError('attentionBackward', `lse must be [${g.B}, ${g.Hq}, ${g.T}]`);
  const flash = flashTiles('attentionBackward', gpu, g, opts);
  if (flash) {
    const [causal, scale] = [opts.causal ?? true, opts.scale ?? 1 / Math.sqrt(g.D)];
    return flashAttentionBackward(gpu, { dOut, q, k, v, out, lse }, g, causal, scale, flash);
  }
  const tiles = tilesFor('attentionBackward', gpu, g, opts);
  const dq = gpu.empty(q.shape);
  const dk = gpu.empty(k.shape);
  const dv = gpu.empty(v.shape);
  if (q.size === 0) return { dq, dk, dv };
  const causal = opts.causal ?? true;
  const scale = opts.scale ?? 1 / Math.sqrt(g.D);

  const delta = attentionDelta(gpu, dOut, out, g);

  const qBlocks = Math.ceil(g.T / (tiles.lanes * tiles.rows));
  gpu.dispatch({
    kernel: {
      name: 'attention.dq',
      template: attentionWgsl,
      defines: { ...rowDefines(g, tiles), MODE_FWD: false, MODE_DQ: true, LOAD_DO: true },
      params: attentionParams,
      includes: attentionIncludes,
    },
    buffers: [q, k, v, dOut, lse, delta, dq],
    uniforms: params(g, qBlocks, causal, scale, tiles.lanes),
    workgroups: [qBlocks, g.Hq, g.B],
  });

  const kBlocks = Math.ceil(g.T / (tiles.lanes * tiles.keyRows));
  gpu.dispatch({
    kernel: {
      name: 'attention.dkdv',
      template: dkdvWgsl,
      defines: { ...defines(g, tiles), KI: tiles.keyRows, QJ: 1, LOAD_DO: true },
      params: attentionParams,
      includes: attentionIncludes,
    },
    buffers: [q, k, v, dOut, lse, delta, dk, dv],
    uniforms: params(g, kBlocks, causal, scale, tiles.lanes),
    workgroups: [kBlocks, g.Hkv, g.B],
  });
  delta.dispose();
  return { dq, dk, dv };
}
