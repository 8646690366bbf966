import reduceWgsl from '../../../shaders/reduce.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import { sizeOf, type Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { reduce as tuning } from '../../tunables.js';
import { axisOf, expectDType, grid2d } from '../util.js';

export type ReduceOp = 'sum' | 'sumsq' | 'max' | 'mean';

const params = uniforms({
  outer: 'u32',
  r: 'u32',
  inner: 'u32',
  chunk: 'u32',
  chunks: 'u32',
  scale: 'f32',
  gridX: 'u32',
});

/** Enough independent columns to keep the device busy without splitting the reduced axis. */
const BUSY_COLUMNS = 2048;

/**
 * Reduces along one axis, deterministically: fixed-order partial folds per chunk, then passes over the
 * partials until one value per output remains.
 */
export function reduce(gpu: Gpu, x: Tensor, op: ReduceOp, axis = -1, keepDims = false): Tensor {
  const name = `reduce.${op}`;
  expectDType(name, x, 'f32');
  const ax = axisOf(name, axis, x.shape.length);
  const outer = sizeOf(x.shape.slice(0, ax));
  const inner = sizeOf(x.shape.slice(ax + 1));
  const R = x.shape[ax];
  const outShape = keepDims ? x.shape.map((d, i) => (i === ax ? 1 : d)) : x.shape.filter((_, i) => i !== ax);
  if (R === 0) {
    if (op === 'max' || op === 'mean')
      throw new ShapeError(name, `cannot take the ${op} of an empty axis ${ax}`);
    return gpu.zeros(outShape);
  }
  if (outer * inner === 0) return gpu.empty(outShape);
  const tun = gpu.adapter.isCpu ? tuning.cpu : tuning.gpu;
  const rows = inner === 1;
  let cur = x;
  let r = R;
  for (let pass = 0; ; pass++) {
    const chunk = rows ? tun.chunk : outer * inner >= BUSY_COLUMNS ? r : tuning.columnChunk;
    const chunks = Math.ceil(r / chunk);
    const last = chunks === 1;
    const out = gpu.empty(last ? outShape : [outer, chunks, inner]);
    const threads = outer * chunks * inner;
    const [gx, gy] = grid2d(rows ? outer * chunks : Math.ceil(threads / tun.workgroupSize));
    const vec4 = rows && r % 4 === 0 && chunk % 4 === 0;
    gpu.dispatch({
      kernel: {
        name,
        template: reduceWgsl,
        defines: {
          WG: tun.workgroupSize,
          ROWS: rows,
          VEC4: vec4,
          MAX: op === 'max',
          SQUARE: op === 'sumsq' && pass === 0,
        },
        params,
      },
      buffers: [cur, out],
      uniforms: { outer, r, inner, chunk, chunks, scale: last && op === 'mean' ? 1 / R : 1, gridX: gx },
      workgroups: [gx, gy],
    });
    if (cur !== x) cur.dispose();
    if (last) return out;
    cur = out;
    r = chunks;
  }
}

export const sum = (gpu: Gpu, x: Tensor, axis = -1, keepDims = false) =>
  reduce(gpu, x, 'sum', axis, keepDims);
export const sumSquares = (gpu: Gpu, x: Tensor, axis = -1, keepDims = false) =>
  reduce(gpu, x, 'sumsq', axis, keepDims);
export const max = (gpu: Gpu, x: Tensor, axis = -1, keepDims = false) =>
  reduce(gpu, x, 'max', axis, keepDims);
export const mean = (gpu: Gpu, x: Tensor, axis = -1, keepDims = false) =>
  reduce(gpu, x, 'mean', axis, keepDims);
