import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { sum } from '../reduce/reduce.js';
import { expectDType } from '../util.js';
import { gemm } from './gemm.js';

// The weight may be f16 (mixed precision: the GEMMs widen it and accumulate in f32); x, dy and every
// gradient are f32.
function check(op: string, x: Tensor, weight: Tensor): [number, number, number] {
  expectDType(op, x, 'f32');
  expectDType(op, weight, 'f32', 'f16');
  if (x.shape.length !== 2 || weight.shape.length !== 2 || x.shape[1] !== weight.shape[1]) {
    throw new ShapeError(
      op,
      `x must be [B, in] and weight [out, in] (PyTorch layout), got [${x.shape.join(', ')}] and [${weight.shape.join(', ')}]`,
    );
  }
  return [x.shape[0], x.shape[1], weight.shape[0]];
}

/** PyTorch's F.linear: x [B, in] times weight [out, in] transposed, plus bias [out]: [B, out], f32. */
export function linear(gpu: Gpu, x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  check('linear', x, weight);
  return gemm(gpu, x, weight, { transB: true, bias, outDType: 'f32' });
}

export interface LinearGrads {
  dx?: Tensor;
  dw: Tensor;
  db?: Tensor;
}

/**
 * Gradients of linear from dy [B, out]: dx = dy weight [B, in] (unless inputGrad is false),
 * dw = dyᵀ x [out, in], db = dy summed over the batch [out] (when biasGrad is set). Deterministic.
 */
export function linearBackward(
  gpu: Gpu,
  x: Tensor,
  weight: Tensor,
  dy: Tensor,
  opts: { inputGrad?: boolean; biasGrad?: boolean } = {},
): LinearGrads {
  const [b, , out] = check('linearBackward', x, weight);
  if (dy.shape.length !== 2 || dy.shape[0] !== b || dy.shape[1] !== out) {
    throw new ShapeError('linearBackward', `dy must be [${b}, ${out}], got [${dy.shape.join(', ')}]`);
  }
  const dw = gemm(gpu, dy, x, { transA: true });
  const dx = opts.inputGrad === false ? undefined : gemm(gpu, dy, weight, { outDType: 'f32' });
  const db = opts.biasGrad ? sum(gpu, dy, 0) : undefined;
  return { dx, dw, db };
}
