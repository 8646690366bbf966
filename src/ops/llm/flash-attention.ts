import fwdWgsl from '../../../shaders/flash-attention.wgsl';
import dkdvWgsl from '../../../shaders/flash-attention-dkdv.wgsl';
import dqWgsl from '../../../shaders/flash-attention-dq.wgsl';
import flashLoadWgsl from '../../../shaders/lib/flash-load.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import { gpuKernels } from '../../gpu/kernel-choice.js';
import type { Tensor } from '../../gpu/tensor.js';
import { flashAttention as tun } from '../../tunables.js';
import { attentionDelta } from './attention-delta.js';
import {
  type AttentionGeometry,
  attentionIncludes,
  attentionValues,
  flashParams,
} from './attention-params.js';

/** Tiles of the flash kernels (see src/tunables.ts flashAttention). */
export interface FlashTiles {
  wg: number;
  forward: { bq: number; bk: number };
  dq: { bq: number; bk: number };
  dkdv: { bkv: number; bq: number };
  ct: number;
}

/** Per-call choice (AttentionOptions). */
export interface FlashVariantOptions {
  /** Force the plain (lavapipe-tuned) or the flash kernels; default: by gpu.kernels and the fit. */
  variant?: 'plain' | 'flash';
  /** Flash tiles to use instead of the tunables (tests). */
  flashTiles?: FlashTiles;
}

/** Workgroup memory of the largest of the three kernels, bytes (padded rows as in the shaders). */
export function flashWorkgroupBytes(t: FlashTiles, headDim: number): number {
  const ks = Math.ceil(headDim / 4) + 1;
  const fwd = t.forward.bk * ks * 16 + t.forward.bq * (t.forward.bk + 1) * 4 + 3 * t.forward.bq * 4;
  const dq = t.dq.bk * ks * 16 + t.dq.bq * (t.dq.bk + 1) * 4;
  const dkdv = t.dkdv.bq * ks * 16 + t.dkdv.bkv * (t.dkdv.bq + 1) * 4;
  return Math.max(fwd, dq, dkdv);
}

/** Why tiles cannot work as the shaders assume, or undefined when they can. */
export function flashTilesProblem(t: FlashTiles): string | undefined {
  const score = (rows: number, cols: number) => rows * cols === 16 * t.wg && rows % 4 === 0 && cols % 4 === 0;
  if (!score(t.forward.bq, t.forward.bk) || !score(t.dq.bq, t.dq.bk) || !score(t.dkdv.bkv, t.dkdv.bq))
    return 'every score tile must be 4 x 4 per invocation (rows x keys = 16 wg, both multiples of 4)';
  const rowGroups = t.wg / t.ct;
  if (!Number.isInteger(rowGroups)) return `ct (${t.ct}) must divide wg (${t.wg})`;
  for (const rows of [t.forward.bq, t.dq.bq, t.dkdv.bkv])
    if (rows % rowGroups !== 0)
      return `output tiles of ${rows} rows do not split into ${rowGroups} row groups`;
  return undefined;
}

/** The flash tiles when the flash kernels run for this call, else undefined (the plain kernels run). */
export function flashFor(
  op: string,
  kernels: Gpu['kernels'],
  isCpu: boolean,
  workgroupBytes: number,
  headDim: number,
  opts: FlashVariantOptions,
): FlashTiles | undefined {
  if (opts.variant === 'plain') return undefined;
  const tiles = opts.flashTiles ?? tun;
  const problem = flashTilesProblem(tiles);
  if (problem) throw new ShapeError(op, `flash tiles: ${problem}`);
  const fits = flashWorkgroupBytes(tiles, headDim) <= workgroupBytes;
  if (opts.variant === 'flash' || opts.flashTiles) {
    if (!fits)
      throw new ShapeError(
        op,
        `flash attention at head dim ${headDim} needs ${flashWorkgroupBytes(tiles, headDim)} bytes of workgroup memory; the adapter has ${workgroupBytes}`,
      );
    return tiles;
  }
  return gpuKernels(kernels, isCpu) && fits ? tiles : undefined;
}

/**
 * A flash kernel's snippets: the Q / K / V / dO loads and, per output buffer (`O`, `dQ`, `dK`, `dV`), its
 * `fn st_<name lower-cased>(base, c4, v)` that stores one vec4 of a row (element by element past D unless
 * VEC). Written here because WGSL functions cannot take a storage buffer as a parameter.
 */
function flashIncludes(outputs: readonly string[]) {
  const store = (buf: string) => `fn st_${buf.toLowerCase()}(base: u32, c4: u32, v: vec4f) {
#if \${VEC}
  ${buf}[base / 4u + c4] = v;
#else
  for (var c = 0u; c < 4u; c++) {
    if (c4 * 4u + c < D) {
      ${buf}[base + c4 * 4u + c] = v[c];
    }
  }
#endif
}
`;
  return { ...attentionIncludes, 'flash-load': flashLoadWgsl, 'row-store': outputs.map(store).join('') };
}

/** What every flash kernel is specialised on. */
function defines(g: AttentionGeometry, t: FlashTiles) {
  const d4 = Math.ceil(g.D / 4);
  return {
    D: g.D,
    D4: d4,
    VEC: g.D % 4 === 0,
    VT: g.D % 4 === 0 ? 'vec4f' : 'f32',
    WG: t.wg,
    CT: t.ct,
    OC: Math.ceil(d4 / t.ct),
  };
}

/** Flash attention forward: the output (q's shape) and the natural log-sum-exp per row [B, Hq, T]. */
export function flashAttention(
  gpu: Gpu,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  g: AttentionGeometry,
  causal: boolean,
  scale: number,
  t: FlashTiles,
): { out: Tensor; lse: Tensor } {
  const out = gpu.empty(q.shape);
  const lse = gpu.empty([g.B, g.Hq, g.T]);
  if (out.size === 0) return { out, lse };
  const blocks = Math.ceil(g.T / t.forward.bq);
  gpu.dispatch({
    kernel: {
      name: 'attention.flash',
      template: fwdWgsl,
      defines: { ...defines(g, t), BQ: t.forward.bq, BK: t.forward.bk, LOAD_DO: false },
      params: flashParams,
      includes: flashIncludes(['O']),
    },
    buffers: [q, k, v, out, lse],
    uniforms: attentionValues(g, blocks, causal, scale),
    workgroups: [blocks, g.Hq, g.B],
  });
  return { out, lse };
}

/** Flash attention backward: delta, then dq (per query block) and dk, dv (per key block), no atomics. */
export function flashAttentionBackward(
  gpu: Gpu,
  tensors: { dOut: Tensor; q: Tensor; k: Tensor; v: Tensor; out: Tensor; lse: Tensor },
  g: AttentionGeometry,
  causal: boolean,
  scale: number,
  t: FlashTiles,
): { dq: Tensor; dk: Tensor; dv: Tensor } {
  const { dOut, q, k, v, out, lse } = tensors;
  const dq = gpu.empty(q.shape);
  const dk = gpu.empty(k.shape);
  const dv = gpu.empty(v.shape);
  if (q.size === 0) return { dq, dk, dv };

  const delta = attentionDelta(gpu, dOut, out, g);

  const qBlocks = Math.ceil(g.T / t.dq.bq);
  gpu.dispatch({
    kernel: {
      name: 'attention.flash.dq',
      template: dqWgsl,
      defines: { ...defines(g, t), BQ: t.dq.bq, BK: t.dq.bk, LOAD_DO: true },
      params: flashParams,
      includes: flashIncludes(['dQ']),
    },
    buffers: [q, k, v, dOut, lse, delta, dq],
    uniforms: attentionValues(g, qBlocks, causal, scale),
    workgroups: [qBlocks, g.Hq, g.B],
  });

  const kBlocks = Math.ceil(g.T / t.dkdv.bkv);
  gpu.dispatch({
    kernel: {
      name: 'attention.flash.dkdv',
      template: dkdvWgsl,
      defines: { ...defines(g, t), BKV: t.dkdv.bkv, BQ: t.dkdv.bq, LOAD_DO: true },
      params: flashParams,
      includes: flashIncludes(['dK', 'dV']),
    },
    buffers: [q, k, v, dOut, lse, delta, dk, dv],
    uniforms: attentionValues(g, kBlocks, causal, scale),
    workgroups: [kBlocks, g.Hkv, g.B],
  });
  delta.dispose();
  return { dq, dk, dv };
}
