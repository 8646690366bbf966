import foldWgsl from '../../../shaders/fold-slices.wgsl';
import type { Gpu } from '../../gpu/device.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { cnn as tun } from '../../tunables.js';
import { grid2d } from '../util.js';

export interface FoldOptions {
  /** Multiplies the sums (1 / count for a mean). */
  scale?: number;
  /** Values per slice in `partial` (default: count). */
  n?: number;
  /** Where in `out` the results go. */
  offset?: number;
  /** Where in each slice the values to fold start. */
  srcOffset?: number;
  /** Values to fold (default: out.size). */
  count?: number;
}

const params = uniforms({
  n: 'u32',
  slices: 'u32',
  scale: 'f32',
  gridX: 'u32',
  offset: 'u32',
  srcOffset: 'u32',
  count: 'u32',
});

/**
 * Second pass of a deterministic slice reduction: out[offset + e] = scale * sum_s partial[s * n +
 * srcOffset + e] for e < count, the slices added in order (no atomics).
 */
export function foldSlices(
  gpu: Gpu,
  partial: Tensor,
  slices: number,
  out: Tensor,
  o: FoldOptions = {},
): void {
  const count = o.count ?? out.size;
  const n = o.n ?? count;
  if (count === 0) return;
  const wg = tun.workgroupSize;
  const [gx, gy] = grid2d(Math.ceil(count / wg));
  gpu.dispatch({
    kernel: { name: 'fold-slices', template: foldWgsl, defines: { WG: wg }, params },
    buffers: [partial, out],
    uniforms: {
      n,
      slices,
      scale: o.scale ?? 1,
      gridX: gx,
      offset: o.offset ?? 0,
      srcOffset: o.srcOffset ?? 0,
      count,
    },
    workgroups: [gx, gy],
  });
}
