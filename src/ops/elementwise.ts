import activationWgsl from '../../shaders/activation.wgsl';
import elementwiseWgsl from '../../shaders/elementwise.wgsl';
import type { Gpu } from '../gpu/device.js';
import { ShapeError } from '../gpu/errors.js';
import type { Tensor } from '../gpu/tensor.js';
import { elementwise as tun } from '../tunables.js';
import { type Activation, activationDefines } from './activation.js';
import { broadcastShape, broadcastStrides, expectDType, f32bits, grid2d, sameShape } from './util.js';

const template = activationWgsl + elementwiseWgsl;

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
  const words = new Uint32Array(28);
  words.set([n, shape.length, f32bits(alpha), x * y * tun.workgroupSize]);
  if (!contiguous) {
    words.set(shape, 4);
    words.set(broadcastStrides(a.shape, shape), 12);
    words.set(broadcastStrides((b as Tensor).shape, shape), 20);
  }
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
    },
    buffers: b ? [a, b, out] : [a, out],
    uniforms: words,
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
