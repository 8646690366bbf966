import ropeWgsl from '../../../shaders/rope.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { llm as tun } from '../../tunables.js';
import { expectDType, grid2d } from '../util.js';

/** Hugging Face rope_scaling kinds this engine implements (attention_factor is 1 for all of them). */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

export interface RopeConfig {
  /** Rotated dimensions per head (the head dimension; even). */
  headDim: number;
  /** config.rope_theta. */
  theta: number;
  scaling?: RopeScaling;
}

/**
 * Reads a config.json `rope_scaling` object (null / absent / rope_type "default" -> undefined). Unsupported
 * kinds (dynamic, yarn, longrope, ...) are an error naming the kind.
 */
export function parseRopeScaling(raw: unknown): RopeScaling | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (typeof raw !== 'object')
    throw new Error(`rope_scaling must be an object or null, got ${JSON.stringify(raw)}`);
  const r = raw as Record<string, unknown>;
  const kind = r.rope_type ?? r.type ?? 'default';
  const num = (key: string): number => {
    const v = r[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new Error(
        `rope_scaling.${key} must be a positive number for rope_type "${kind}", got ${JSON.stringify(v)}`,
      );
    }
    return v;
  };
  if (kind === 'default') return undefined;
  if (kind === 'linear') return { type: 'linear', factor: num('factor') };
  if (kind === 'llama3') {
    const s: RopeScaling = {
      type: 'llama3',
      factor: num('factor'),
      lowFreqFactor: num('low_freq_factor'),
      highFreqFactor: num('high_freq_factor'),
      originalMaxPositionEmbeddings: num('original_max_position_embeddings'),
    };
    if (s.highFreqFactor <= s.lowFreqFactor) {
      throw new Error('rope_scaling.high_freq_factor must be greater than low_freq_factor');
    }
    return s;
  }
  throw new Error(`rope_scaling.rope_type "${String(kind)}" is not supported (default, linear, llama3 are)`);
}

const f = Math.fround;

/**
 * inv_freq [headDim / 2] as transformers computes it, including its float32 rounding: each step (i / dim,
 * theta ** e, 1 / x, the Llama-3 wavelength test and smooth blend) is evaluated in f64 and rounded to f32
 * where torch rounds, so the angles match Hugging Face's, not just an exact-arithmetic ideal (positions in
 * the thousands amplify a 1-ulp frequency difference into ~1e-4 rad). torch's vectorised pow may still
 * differ by 1 ulp on some elements.
 */
export function ropeInvFreq(cfg: RopeConfig): Float32Array {
  const { headDim: dim, theta, scaling } = cfg;
  if (!Number.isInteger(dim) || dim <= 0 || dim % 2 !== 0)
    throw new ShapeError('rope', `head dim must be even, got ${dim}`);
  if (!(theta > 0)) throw new ShapeError('rope', `rope_theta must be positive, got ${theta}`);
  const inv = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) inv[i] = f(1 / f(f(theta) ** f((2 * i) / dim)));
  if (!scaling) return inv;
  if (scaling.type === 'linear') return inv.map((v) => f(v / f(scaling.factor)));
  const { factor, lowFreqFactor: lo, highFreqFactor: hi, originalMaxPositionEmbeddings: old } = scaling;
  const lowWave = f(old / lo);
  const highWave = f(old / hi);
  const twoPi = f(2 * Math.PI);
  return inv.map((v) => {
    // transformers: wavelen = 2 pi / inv_freq (torch evaluates scalar / tensor as reciprocal * scalar).
    const wave = f(f(1 / v) * twoPi);
    const scaled = wave > lowWave ? f(v / f(factor)) : v;
    if (wave < highWave || wave > lowWave) return scaled;
    const smooth = f(f(f(f(1 / wave) * f(old)) - f(lo)) / f(hi - lo));
    return f(f(f(f(1 - smooth) * scaled) / f(factor)) + f(smooth * scaled));
  });
}

/** cos / sin tables [positions, headDim / 2] for a sequence of positions (shared by the batch). */
export interface RopeTables {
  readonly cos: Tensor;
  readonly sin: Tensor;
  readonly headDim: number;
  readonly length: number;
}

/**
 * Builds the tables on the CPU: angle = f32(inv_freq * position) (Hugging Face's float32 product), then
 * cos and sin of that f32 angle in f64, rounded to f32. Positions are `offset, offset + 1, ...` (length
 * values) or an explicit list. Built on the CPU because WGSL's sin / cos lose accuracy far from [-pi, pi].
 */
export function ropeTables(
  gpu: Gpu,
  cfg: RopeConfig,
  positions: { offset?: number; length: number } | ArrayLike<number>,
): RopeTables {
  const inv = ropeInvFreq(cfg);
  const pos: ArrayLike<number> =
    Array.isArray(positions) || ArrayBuffer.isView(positions)
      ? (positions as ArrayLike<number>)
      : Array.from(
          { length: positions.length },
          (_, t) => ((positions as { offset?: number }).offset ?? 0) + t,
        );
  const half = inv.length;
  const n = pos.length;
  const cos = new Float32Array(n * half);
  const sin = new Float32Array(n * half);
  for (let t = 0; t < n; t++) {
    const p = pos[t];
    if (!Number.isInteger(p) || p < 0 || p > 2 ** 24) {
      throw new ShapeError('ropeTables', `position ${t} is ${p}, expected an integer in [0, 2^24]`);
    }
    for (let i = 0; i < half; i++) {
      const a = f(inv[i] * p);
      cos[t * half + i] = Math.cos(a);
      sin[t * half + i] = Math.sin(a);
    }
  }
  const shape = [n, half];
  return {
    cos: gpu.tensor(cos, shape),
    sin: gpu.tensor(sin, shape),
    headDim: cfg.headDim,
    length: n,
  };
}

export type HeadLayout = 'bthd' | 'bhtd';

export interface RopeOptions {
  /** x is [B, T, H, D] ('bthd', the layout a projection writes; default) or [B, H, T, D] ('bhtd'). */
  layout?: HeadLayout;
  /** Rotate by minus the angle: the backward of rope (dx = R^T dy). */
  inverse?: boolean;
}

const params = uniforms({
  /** B * T * H * D/2 */
  pairs: 'u32',
  t: 'u32',
  h: 'u32',
  half: 'u32',
  sb: 'u32',
  st: 'u32',
  sh: 'u32',
  sign: 'f32',
  gridX: 'u32',
});

/** Applies the rotation to every head of x (a new tensor). */
export function rope(gpu: Gpu, x: Tensor, tables: RopeTables, opts: RopeOptions = {}): Tensor {
  const layout = opts.layout ?? 'bthd';
  expectDType('rope', x, 'f32');
  if (x.shape.length !== 4)
    throw new ShapeError('rope', `x must be 4-D (${layout}), got [${x.shape.join(', ')}]`);
  const [B, A, C, D] = x.shape;
  const [T, H] = layout === 'bthd' ? [A, C] : [C, A];
  if (D !== tables.headDim) throw new ShapeError('rope', `x has head dim ${D}, the tables ${tables.headDim}`);
  if (T !== tables.length)
    throw new ShapeError('rope', `x has ${T} positions (${layout}), the tables ${tables.length}`);
  const out = gpu.empty(x.shape);
  const half = D / 2;
  const pairs = B * T * H * half;
  if (pairs === 0) return out;
  const [sb, st, sh] = layout === 'bthd' ? [T * H * D, H * D, D] : [H * T * D, D, T * D];
  const wg = tun.elementWorkgroup;
  const [gx, gy] = grid2d(Math.ceil(pairs / wg));
  gpu.dispatch({
    kernel: { name: 'rope', template: ropeWgsl, defines: { WG: wg }, params },
    buffers: [x, tables.cos, tables.sin, out],
    uniforms: { pairs, t: T, h: H, half, sb, st, sh, sign: opts.inverse ? -1 : 1, gridX: gx },
    workgroups: [gx, gy],
  });
  return out;
}

/** Backward of rope: the inverse rotation of the incoming gradient. */
export function ropeBackward(
  gpu: Gpu,
  dOut: Tensor,
  tables: RopeTables,
  opts: Omit<RopeOptions, 'inverse'> = {},
) {
  return rope(gpu, dOut, tables, { ...opts, inverse: true });
}
