import { describe, expect, it } from 'vitest';
import {
  globalAvgPool2d,
  globalAvgPool2dBackward,
  maxPool2d,
  maxPool2dBackward,
} from '../../../src/ops/conv/pool.js';
import { globalAvgPoolRef, maxPoolRef } from '../../helpers/cnn-reference.js';
import { useGpu } from '../../helpers/gpu.js';
import { dot, numericGrad, worstVsMax } from '../../helpers/grad-check.js';
import { values, worstRatio } from '../../helpers/reference.js';

const getGpu = useGpu();
const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
// Max pooling moves values exactly; its gradient is exact sums of a few dy values. Central differences
// on distinct random inputs (eps far below the gap between neighbours) are exact up to f64 rounding.
const GRAD_REL = 1e-6;

describe('max pool 2-D', () => {
  it.each([
    [[1, 1, 1, 1], 1, 1, 0],
    [[2, 3, 5, 7], 2, 2, 0],
    [[3, 2, 7, 9], 3, 2, 1],
    [[1, 4, 8, 8], 3, 1, 1],
    [[2, 3, 9, 6], 2, 1, 0],
    [[1, 2, 11, 11], 3, 3, 0],
  ])('%j kernel %i stride %i padding %i: forward, argmax and backward', async (shape, k, stride, pad) => {
    const gpu = await getGpu();
    const x = values(prod(shape), prod(shape) + k);
    const ref = maxPoolRef(x, shape, k, stride, pad);
    const r = values(ref.out.length, 5);
    const got = await gpu.scope(async () => {
      const { out, indices } = maxPool2d(gpu, gpu.tensor(x, shape), { kernel: k, stride, padding: pad });
      const dx = maxPool2dBackward(gpu, gpu.tensor(r, ref.shape), indices, shape, {
        kernel: k,
        stride,
        padding: pad,
      });
      expect(out.shape).toEqual(ref.shape);
      return { out: await gpu.readF32(out), arg: await gpu.read(indices), dx: await gpu.readF32(dx) };
    });
    expect(Array.from(got.out)).toEqual(Array.from(ref.out, Math.fround));
    expect(Array.from(got.arg)).toEqual(Array.from(ref.arg));
    const dx = numericGrad(x, (v) => dot(maxPoolRef(v, shape, k, stride, pad).out, r), 1e-7);
    expect(worstVsMax(got.dx, dx, GRAD_REL)).toBeLessThanOrEqual(1);
  });

  it('ties go to the first maximum in scan order', async () => {
    const gpu = await getGpu();
    // One 4x4 plane of equal values: every 2x2 window (stride 1) takes its top-left element.
    const { indices } = maxPool2d(gpu, gpu.tensor(new Float32Array(16).fill(3), [1, 1, 4, 4]), {
      kernel: 2,
      stride: 1,
    });
    expect(Array.from(await gpu.read(indices))).toEqual([0, 1, 2, 4, 5, 6, 8, 9, 10]);
  });

  it('rejects padding above kernel / 2', async () => {
    const gpu = await getGpu();
    expect(() => maxPool2d(gpu, gpu.zeros([1, 1, 4, 4]), { kernel: 2, padding: 2 })).toThrow(
      /padding must be between 0 and/,
    );
  });
});

describe('global average pool', () => {
  it.each([[[1, 1, 1, 1]], [[2, 3, 5, 7]], [[3, 16, 8, 8]]])('%j forward and backward', async (shape) => {
    const gpu = await getGpu();
    const x = values(prod(shape), 3);
    const [n, c] = shape;
    const r = values(n * c, 4);
    const got = await gpu.scope(async () => {
      const out = globalAvgPool2d(gpu, gpu.tensor(x, shape));
      expect(out.shape).toEqual([n, c]);
      const dx = globalAvgPool2dBackward(gpu, gpu.tensor(r, [n, c]), shape);
      return { out: await gpu.readF32(out), dx: await gpu.readF32(dx) };
    });
    const want = globalAvgPoolRef(x, shape);
    expect(worstRatio(got.out, want, 1, 1e-6, 0)).toBeLessThanOrEqual(1);
    const dx = numericGrad(x, (v) => dot(globalAvgPoolRef(v, shape), r), 1e-3);
    expect(worstVsMax(got.dx, dx, 1e-6)).toBeLessThanOrEqual(1);
  });
});
