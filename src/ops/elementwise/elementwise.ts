import activationWgsl from '../../../shaders/activation.wgsl';
import elementwiseWgsl from '../../../shaders/elementwise.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { elementwise as tun } from '../../tunables.js';
import { broadcastShape, broadcastStrides, expectDType, grid2d, sameShape } from '../util.js';
import { type Activation, activationDefines } from './activation.js';

const template = activationWgsl + elementwiseWgsl;

const params = uniforms({
  n: 'u32',
  rank: 'u32',
  alpha: 'f32',
  stride: 'u32',
  shape: 'array<vec4u, 2>',
  strideA: 'array<vec4u, 2>',
  strideB: 'array<vec4u, 2>',
});

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div';
const binaryExpr: Record<BinaryOp, string> = { add: 'a + b', sub: 'a - b', mul: 'a * b', div: 'a / b' };

function run(
  gpu: Gpu,
  name: string,
  expr: string,
  act: Activation,
  a: Tensor,
  b: Tensor | undefined,
  alpha: number,
): Tensor {
  expectDType(name, a, 'f32');
  if (b) expectDType(name, b, 'f32');
  const shape = b ? broadcastShape(name, a.shape, b.shape) : [...a.shape];
  if (shape.length > tun.maxRank) throw new ShapeError(name, `rank ${shape.length} > ${tun.maxRank}`);
  const out = gpu.empty(shape);
  const n = out.size;
  if (n === 0) return out;
  const contiguous = !b || (sameShape(a.shape, shape) && sameShape(b.shape, shape));
  const [x, y] = grid2d(Math.ceil(n / tun.workgroupSize));
  const strided = contiguous ? undefined : (b as Tensor);
  gpu.dispatch({
    kernel: {
      name: `elementwise.${name}`,
      template,
      defines: {
        WG: tun.workgroupSize,
        BINARY: !!b,
        CONTIGUOUS: contiguous,
        OP: expr,
        ...activationDefines(act),
      },
      params,
    },
    buffers: b ? [a, b, out] : [a, out],
    // Shapes and strides are read only when not CONTIGUOUS.
    uniforms: {
      n,
      rank: shape.length,
      alpha,
      stride: x * y * tun.workgroupSize,
      shape: strided ? shape : [],
      strideA: strided ? broadcastStrides(a.shape, shape) : [],
      strideB: strided ? broadcastStrides(strided.shape, shape) : [],
    },
    workgroups: [x, y],
  });
  return out;
}

/** a OP b with NumPy broadcasting (a bias [N] against [M, N], a per-channel [C, 1, 1] against [N, C, H, W]). */
export function binary(gpu: Gpu, op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  return run(gpu, op, binaryExpr[op], 'none', a, b, 0);
}

export const add = (gpu: Gpu, a: Tensor, b: Tensor) => binary(gpu, 'add', a, b);
export const mul = (gpu: Gpu, a: Tensor, b: Tensor) => binary(gpu, 'mul', a, b);

export function scale(gpu: Gpu, a: Tensor, alpha: number): Tensor {
  return run(gpu, 'scale', 'a * alpha', 'none', a, undefined, alpha);
}

export function activation(gpu: Gpu, act: Exclude<Activation, 'none'>, a: Tensor): Tensor {
  return run(gpu, act, 'activate(a)', act, a, undefined, 0);
}

export const relu = (gpu: Gpu, a: Tensor) => activation(gpu, 'relu', a);
export const silu = (gpu: Gpu, a: Tensor) => activation(gpu, 'silu', a);
export const gelu = (gpu: Gpu, a: Tensor) => activation(gpu, 'gelu', a);
