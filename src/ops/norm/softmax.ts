import rowReduceWgsl from '../../../shaders/lib/row-reduce.wgsl';
import softmaxWgsl from '../../../shaders/softmax.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { softmax as tun } from '../../tunables.js';
import { expectDType, grid2d } from '../util.js';

const params = uniforms({ rows: 'u32', cols: 'u32', gridX: 'u32' });

/** Softmax along the last axis. */
export function softmax(gpu: Gpu, x: Tensor): Tensor {
  expectDType('softmax', x, 'f32');
  if (x.shape.length === 0) throw new ShapeError('softmax', 'needs at least one axis');
  const cols = x.shape[x.shape.length - 1];
  const rows = x.size / Math.max(cols, 1);
  const out = gpu.empty(x.shape);
  if (x.size === 0) return out;
  const [gx, gy] = grid2d(rows);
  gpu.dispatch({
    kernel: {
      name: 'softmax',
      template: softmaxWgsl,
      defines: { WG: tun.workgroupSize },
      params,
      includes: { 'row-reduce': rowReduceWgsl },
    },
    buffers: [x, out],
    uniforms: { rows, cols, gridX: gx },
    workgroups: [gx, gy],
  });
  return out;
}
