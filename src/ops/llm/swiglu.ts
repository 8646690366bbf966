import swigluWgsl from '../../../shaders/swiglu.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { llm as tun } from '../../tunables.js';
import { expectDType, grid2d, sameShape } from '../util.js';

/**
 * Where the gate and up activations are: two tensors of the same shape [..., I], or one fused gate-up
 * projection output [..., 2I] with the gate in the first half of each row.
 */
export type GateUp = { gate: Tensor; up: Tensor } | { packed: Tensor };

interface Layout {
  g: Tensor;
  u: Tensor;
  outShape: number[];
  width: number;
  gStride: number;
  gOffset: number;
  uStride: number;
  uOffset: number;
}

function layoutOf(op: string, gu: GateUp): Layout {
  if ('packed' in gu) {
    const t = gu.packed;
    expectDType(op, t, 'f32');
    const two = t.shape.at(-1) ?? 0;
    if (t.shape.length < 1 || two % 2 !== 0) {
      throw new ShapeError(
        op,
        `a packed gate-up tensor needs an even last axis, got [${t.shape.join(', ')}]`,
      );
    }
    const width = two / 2;
    return {
      g: t,
      u: t,
      outShape: [...t.shape.slice(0, -1), width],
      width,
      gStride: two,
      gOffset: 0,
      uStride: two,
      uOffset: width,
    };
  }
  expectDType(op, gu.gate, 'f32');
  expectDType(op, gu.up, 'f32');
  if (!sameShape(gu.gate.shape, gu.up.shape) || gu.gate.shape.length < 1) {
    throw new ShapeError(
      op,
      `gate [${gu.gate.shape.join(', ')}] and up [${gu.up.shape.join(', ')}] must have one shape`,
    );
  }
  const width = gu.gate.shape.at(-1) ?? 0;
  return {
    g: gu.gate,
    u: gu.up,
    outShape: [...gu.gate.shape],
    width,
    gStride: width,
    gOffset: 0,
    uStride: width,
    uOffset: 0,
  };
}

const params = uniforms({
  /** rows * I */
  n: 'u32',
  /** I */
  width: 'u32',
  gStride: 'u32',
  gOffset: 'u32',
  uStride: 'u32',
  uOffset: 'u32',
  gridX: 'u32',
});

function values(l: Layout, n: number, gx: number) {
  const { width, gStride, gOffset, uStride, uOffset } = l;
  return { n, width, gStride, gOffset, uStride, uOffset, gridX: gx };
}

/** silu(gate) * up: [..., I]. */
export function swiglu(gpu: Gpu, gu: GateUp): Tensor {
  const l = layoutOf('swiglu', gu);
  const out = gpu.empty(l.outShape);
  if (out.size === 0) return out;
  const wg = tun.elementWorkgroup;
  const [gx, gy] = grid2d(Math.ceil(out.size / wg));
  gpu.dispatch({
    kernel: {
      name: 'swiglu',
      template: swigluWgsl,
      defines: { WG: wg, BACKWARD: false, PACKED: false },
      params,
    },
    buffers: [l.g, l.u, out],
    uniforms: values(l, out.size, gx),
    workgroups: [gx, gy],
  });
  return out;
}

/**
 * Backward of swiglu: the gradients of gate and up, laid out like the input (two tensors, or one packed
 * [..., 2I] tensor for a fused projection).
 */
export function swigluBackward(gpu: Gpu, dOut: Tensor, gu: { packed: Tensor }): { dpacked: Tensor };
export function swigluBackward(
  gpu: Gpu,
  dOut: Tensor,
  gu: { gate: Tensor; up: Tensor },
): { dgate: Tensor; dup: Tensor };
export function swigluBackward(
  gpu: Gpu,
  dOut: Tensor,
  gu: GateUp,
): { dgate: Tensor; dup: Tensor } | { dpacked: Tensor } {
  const l = layoutOf('swigluBackward', gu);
  expectDType('swigluBackward', dOut, 'f32');
  if (!sameShape(dOut.shape, l.outShape)) {
    throw new ShapeError(
      'swigluBackward',
      `dOut must be [${l.outShape.join(', ')}], got [${dOut.shape.join(', ')}]`,
    );
  }
  const packed = 'packed' in gu;
  const outs = packed ? [gpu.empty(gu.packed.shape)] : [gpu.empty(l.outShape), gpu.empty(l.outShape)];
  const n = dOut.size;
  if (n > 0) {
    const wg = tun.elementWorkgroup;
    const [gx, gy] = grid2d(Math.ceil(n / wg));
    gpu.dispatch({
      kernel: {
        name: 'swiglu.backward',
        template: swigluWgsl,
        defines: { WG: wg, BACKWARD: true, PACKED: packed },
        params,
      },
      buffers: [l.g, l.u, dOut, ...outs],
      uniforms: values(l, n, gx),
      workgroups: [gx, gy],
    });
  }
  return packed ? { dpacked: outs[0] } : { dgate: outs[0], dup: outs[1] };
}
