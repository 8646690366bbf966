import deltaWgsl from '../../shaders/attention-delta.wgsl';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import { llm } from '../tunables.js';
import { grid2d } from './util.js';

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
    kernel: { name: 'attention.delta', template: deltaWgsl, defines: { WG: wg } },
    buffers: [dOut, out, delta],
    uniforms: new Uint32Array([rows, g.T, g.Hq, g.D, ...g.qStrides, gx]),
    workgroups: [gx, gy],
  });
  return delta;
}
