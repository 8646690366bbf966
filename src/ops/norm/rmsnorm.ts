import rowReduceWgsl from '../../../shaders/lib/row-reduce.wgsl';
import rmsnormWgsl from '../../../shaders/rmsnorm.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { llm as tun } from '../../tunables.js';
import { sum } from '../reduce/reduce.js';
import { expectDType, grid2d, sameShape } from '../util.js';

const params = uniforms({
  rows: 'u32',
  hidden: 'u32',
  eps: 'f32',
  gridX: 'u32',
  /** dweight: rows per partial, and partials. */
  chunk: 'u32',
  chunks: 'u32',
});

const includes = { 'row-reduce': rowReduceWgsl };

function modes(mode: 'forward' | 'dx' | 'dw') {
  return { MODE_FORWARD: mode === 'forward', MODE_DX: mode === 'dx', MODE_DW: mode === 'dw' };
}

function check(op: string, x: Tensor, weight: Tensor): { rows: number; hidden: number } {
  expectDType(op, x, 'f32');
  expectDType(op, weight, 'f32');
  const hidden = x.shape.at(-1) ?? 0;
  if (x.shape.length < 1 || hidden === 0)
    throw new ShapeError(op, `x must have a non-empty last axis, got [${x.shape.join(', ')}]`);
  if (weight.size !== hidden || weight.shape.length !== 1) {
    throw new ShapeError(op, `weight must be [${hidden}], got [${weight.shape.join(', ')}]`);
  }
  return { rows: x.size / hidden, hidden };
}

/**
 * Hugging Face LlamaRMSNorm over the last axis, in f32: y = weight * (x / sqrt(mean(x^2) + eps)).
 * Returns y and `rstd` = 1 / sqrt(mean(x^2) + eps) per row (what the backward needs besides x).
 */
export function rmsNorm(gpu: Gpu, x: Tensor, weight: Tensor, eps: number): { out: Tensor; rstd: Tensor } {
  const { rows, hidden } = check('rmsNorm', x, weight);
  const out = gpu.empty(x.shape);
  const rstd = gpu.empty(x.shape.slice(0, -1));
  if (rows === 0) return { out, rstd };
  const wg = gpu.adapter.isCpu ? tun.rowWorkgroup.cpu : tun.rowWorkgroup.gpu;
  const [gx, gy] = grid2d(rows);
  gpu.dispatch({
    kernel: {
      name: 'rmsnorm',
      template: rmsnormWgsl,
      defines: { WG: wg, ...modes('forward') },
      params,
      includes,
    },
    buffers: [x, weight, out, rstd],
    uniforms: { rows, hidden, eps, gridX: gx, chunk: 0, chunks: 0 },
    workgroups: [gx, gy],
  });
  return { out, rstd };
}

/**
 * Backward of rmsNorm: dx = r (g - xhat mean(g xhat)) with g = dy weight, xhat = x r; dweight = the column
 * sums of dy xhat, folded in a fixed order (chunks of rows, then the deterministic reduce).
 */
export function rmsNormBackward(
  gpu: Gpu,
  dOut: Tensor,
  x: Tensor,
  weight: Tensor,
  rstd: Tensor,
): { dx: Tensor; dweight: Tensor } {
  const { rows, hidden } = check('rmsNormBackward', x, weight);
  expectDType('rmsNormBackward', dOut, 'f32');
  if (!sameShape(dOut.shape, x.shape)) {
    throw new ShapeError(
      'rmsNormBackward',
      `dOut [${dOut.shape.join(', ')}] must match x [${x.shape.join(', ')}]`,
    );
  }
  if (rstd.size !== rows)
    throw new ShapeError('rmsNormBackward', `rstd must have ${rows} values, got ${rstd.size}`);
  const dx = gpu.empty(x.shape);
  if (rows === 0) return { dx, dweight: gpu.zeros([hidden]) };
  const wg = gpu.adapter.isCpu ? tun.rowWorkgroup.cpu : tun.rowWorkgroup.gpu;
  const [gx, gy] = grid2d(rows);
  gpu.dispatch({
    kernel: {
      name: 'rmsnorm.dx',
      template: rmsnormWgsl,
      defines: { WG: wg, ...modes('dx') },
      params,
      includes,
    },
    buffers: [x, weight, rstd, dOut, dx],
    uniforms: { rows, hidden, eps: 0, gridX: gx, chunk: 0, chunks: 0 },
    workgroups: [gx, gy],
  });
  const chunk = tun.dweightRows;
  const chunks = Math.ceil(rows / chunk);
  const partials = gpu.empty(chunks === 1 ? [hidden] : [chunks, hidden]);
  const ewg = tun.elementWorkgroup;
  const [px, py] = grid2d(Math.ceil((chunks * hidden) / ewg));
  gpu.dispatch({
    kernel: {
      name: 'rmsnorm.dweight',
      template: rmsnormWgsl,
      defines: { WG: ewg, ...modes('dw') },
      params,
      includes,
    },
    buffers: [x, rstd, dOut, partials],
    uniforms: { rows, hidden, eps: 0, gridX: px, chunk, chunks },
    workgroups: [px, py],
  });
  if (chunks === 1) return { dx, dweight: partials };
  const dweight = sum(gpu, partials, 0);
  partials.dispose();
  return { dx, dweight };
}
