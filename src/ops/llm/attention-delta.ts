import deltaWgsl from '../../../shaders/attention-delta.wgsl';
import type { Gpu } from '../../gpu/device.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { llm } from '../../tunables.js';
import { grid2d } from '../util.js';

const params = uniforms({
  /** B * Hq * T */
  rows: 'u32',
  t: 'u32',
  hq: 'u32',
  d: 'u32',
  sb: 'u32',
  sh: 'u32',
  st: 'u32',
  gridX: 'u32',
});

/**
 * delta [B, Hq, T] = rowsum(dOut * out): the row term of the softmax backward, shared by the plain and
 * the flash attention backward. Strides are q's [batch, head, time] element strides.
 */
export function attentionDelta(
  gpu: Gpu,
  dOut: Tensor,
  out: Tensor,
  g: { B: number; Hq: number; T: number; D: number; qStrides: readonly [number, number, number] },
): Tensor {
  const rows = g.B * g.Hq * g.T;
  const delta = gpu.empty([g.B, g.Hq, g.T]);
  const wg = llm.elementWorkgroup;
  const [gx, gy] = grid2d(Math.ceil(rows / wg));
  gpu.dispatch({
    kernel: { name: 'attention.delta', template: deltaWgsl, defines: { WG: wg }, params },
    buffers: [dOut, out, delta],
    uniforms: {
      ...{ rows, t: g.T, hq: g.Hq, d: g.D, gridX: gx },
      ...{ sb: g.qStrides[0], sh: g.qStrides[1], st: g.qStrides[2] },
    },
    workgroups: [gx, gy],
  });
  return delta;
}
