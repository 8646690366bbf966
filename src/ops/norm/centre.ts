import centreColumnsWgsl from '../../../shaders/centre-columns.wgsl';
import gramCentreWgsl from '../../../shaders/gram-centre.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { cka } from '../../tunables.js';
import { expectDType, grid2d } from '../util.js';

const columnParams = uniforms({
  rows: 'u32',
  /** Columns in units of VEC (cols / 4 with vec4f). */
  cols: 'u32',
  gridX: 'u32',
});

const gramParams = uniforms({
  n: 'u32',
  offset: 'u32',
  gridX: 'u32',
  /** 1 / n or 1 / (n - 2) */
  rowScale: 'f32',
  /** 1 / n^2 or 1 / ((n - 1)(n - 2)) */
  totalScale: 'f32',
});

/**
 * Subtracts each column's mean over the rows: x is [rows, ...] (every axis after the first is a column),
 * the result has x's shape. Deterministic (one fixed-order fold per column); a column whose values are all
 * equal centres to exact zeros.
 */
export function centreColumns(gpu: Gpu, x: Tensor): Tensor {
  const name = 'centre.columns';
  expectDType(name, x, 'f32');
  if (x.shape.length < 1) throw new ShapeError(name, 'needs at least one axis (the rows)');
  const rows = x.shape[0];
  const cols = rows === 0 ? 0 : x.size / rows;
  const out = gpu.empty(x.shape);
  if (x.size === 0) return out;
  const vec4 = cols % 4 === 0;
  const units = vec4 ? cols / 4 : cols;
  const wg = (gpu.adapter.isCpu ? cka.centre.cpu : cka.centre.gpu).workgroupSize;
  const [gx, gy] = grid2d(Math.ceil(units / wg));
  gpu.dispatch({
    kernel: {
      name,
      template: centreColumnsWgsl,
      defines: { WG: wg, VEC: vec4 ? 'vec4f' : 'f32' },
      params: columnParams,
    },
    buffers: [x, out],
    uniforms: { rows, cols: units, gridX: gx },
    workgroups: [gx, gy],
  });
  return out;
}

export type GramCentring = 'biased' | 'unbiased';

export interface CentreGramOptions {
  /** 'biased': Kc = HKH. 'unbiased': U-centring of K with its diagonal zeroed (needs n >= 4). */
  mode?: GramCentring;
  /** Write into this f32 tensor at element `offset` instead of a new [n, n] tensor. */
  out?: Tensor;
  offset?: number;
}

/**
 * Centres a square Gram matrix k [n, n] for HSIC (shaders/gram-centre.wgsl gives the formulas): with the
 * result C_K, <C_K, C_L>_F = (n-1)^2 HSIC_biased(K, L), or n(n-3) HSIC_unbiased(K, L) (Song et al. 2012)
 * in the unbiased mode. Row and column sums are folded in a fixed order: deterministic.
 */
export function centreGram(gpu: Gpu, k: Tensor, opts: CentreGramOptions = {}): Tensor {
  const { mode = 'biased', offset = 0 } = opts;
  const name = 'centre.gram';
  expectDType(name, k, 'f32');
  if (k.shape.length !== 2 || k.shape[0] !== k.shape[1]) {
    throw new ShapeError(name, `expected a square [n, n] matrix, got [${k.shape.join(', ')}]`);
  }
  const n = k.shape[0];
  const unbiased = mode === 'unbiased';
  if (n < (unbiased ? 4 : 1)) {
    throw new ShapeError(name, `the ${mode} centring needs n >= ${unbiased ? 4 : 1}, got ${n}`);
  }
  const out = opts.out ?? gpu.empty([n, n]);
  if (out.dtype !== 'f32' || !Number.isInteger(offset) || offset < 0 || offset + n * n > out.size) {
    throw new ShapeError(
      name,
      `cannot write ${n}x${n} values at offset ${offset} of a ${out.dtype} tensor of ${out.size}`,
    );
  }
  const wg = (gpu.adapter.isCpu ? cka.centre.cpu : cka.centre.gpu).workgroupSize;
  const rowScale = unbiased ? 1 / (n - 2) : 1 / n;
  const totalScale = unbiased ? 1 / ((n - 1) * (n - 2)) : 1 / (n * n);
  const stats = gpu.empty([2 * n], 'f32', 'gram sums');
  const [sx, sy] = grid2d(Math.ceil(n / wg));
  const values = (gx: number) => ({ n, offset, gridX: gx, rowScale, totalScale });
  gpu.dispatch({
    kernel: {
      name: 'centre.gram.sums',
      template: gramCentreWgsl,
      defines: { WG: wg, STATS: true, UNBIASED: unbiased },
      params: gramParams,
    },
    buffers: [k, stats],
    uniforms: values(sx),
    workgroups: [sx, sy],
  });
  const [ax, ay] = grid2d(n);
  gpu.dispatch({
    kernel: {
      name,
      template: gramCentreWgsl,
      defines: { WG: wg, STATS: false, UNBIASED: unbiased },
      params: gramParams,
    },
    buffers: [k, stats, out],
    uniforms: values(ax),
    workgroups: [ax, ay],
  });
  stats.dispose();
  return out;
}
