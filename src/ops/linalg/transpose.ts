import transposeWgsl from '../../../shaders/transpose.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { transpose as tun } from '../../tunables.js';
import { grid2d, stridesOf } from '../util.js';

const MAX_RANK = 8;

const params = uniforms({
  n: 'u32',
  rank: 'u32',
  stride: 'u32',
  shape: 'array<vec4u, 2>',
  srcStride: 'array<vec4u, 2>',
});

/** Permutes axes: out.shape[d] = x.shape[perm[d]]. Works on any 4-byte dtype. */
export function permute(gpu: Gpu, x: Tensor, perm: readonly number[]): Tensor {
  const rank = x.shape.length;
  const sorted = [...perm].sort((a, b) => a - b);
  if (perm.length !== rank || sorted.some((p, i) => p !== i)) {
    throw new ShapeError('permute', `[${perm.join(', ')}] is not a permutation of ${rank} axes`);
  }
  if (rank > MAX_RANK) throw new ShapeError('permute', `rank ${rank} > ${MAX_RANK}`);
  if (x.dtype === 'f16') throw new ShapeError('permute', 'f16 tensors are not supported; permute in f32');
  const shape = perm.map((p) => x.shape[p]);
  const out = gpu.empty(shape, x.dtype);
  if (out.size === 0) return out;
  const strides = stridesOf(x.shape);
  const [gx, gy] = grid2d(Math.ceil(out.size / tun.workgroupSize));
  gpu.dispatch({
    kernel: { name: 'transpose', template: transposeWgsl, defines: { WG: tun.workgroupSize }, params },
    buffers: [x, out],
    uniforms: {
      n: out.size,
      rank,
      stride: gx * gy * tun.workgroupSize,
      shape,
      srcStride: perm.map((p) => strides[p]),
    },
    workgroups: [gx, gy],
  });
  return out;
}

/** Swaps the last two axes (a batched matrix transpose). */
export function transpose(gpu: Gpu, x: Tensor): Tensor {
  const rank = x.shape.length;
  if (rank < 2) throw new ShapeError('transpose', `needs at least 2 axes, got [${x.shape.join(', ')}]`);
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return permute(gpu, x, perm);
}
