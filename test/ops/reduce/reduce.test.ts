import { describe, expect, it } from 'vitest';
import { reduce } from '../../../src/ops/reduce/reduce.js';
import { useGpu } from '../../helpers/gpu.js';
import { reduceRef, values, worstRatio } from '../../helpers/reference.js';

const getGpu = useGpu();

describe('reduce', () => {
  it.each([
    [[1], 0],
    [[7], 0],
    [[4097], 0],
    [[3, 10_000], 1],
    [[3, 10_000], 0],
    [[5, 6, 7], 1],
    [[5, 6, 7], 2],
    [[2, 1, 3], 1],
    [[1, 300_001], -1],
    [[100, 4], 0],
    [[4, 5000, 3], 1],
  ])('sum, sumsq, max, mean of %j along %i', async (shape, axis) => {
    const gpu = await getGpu();
    const n = shape.reduce((a, b) => a * b, 1);
    const x = values(n, n + shape.length);
    const ax = axis < 0 ? axis + shape.length : axis;
    const outer = shape.slice(0, ax).reduce((a, b) => a * b, 1);
    const inner = shape.slice(ax + 1).reduce((a, b) => a * b, 1);
    const t = gpu.tensor(x, shape);
    for (const op of ['sum', 'sumsq', 'max', 'mean'] as const) {
      const out = reduce(gpu, t, op, axis);
      expect(out.shape).toEqual(shape.filter((_, i) => i !== ax));
      const got = await gpu.readF32(out);
      const ref = reduceRef(x, outer, shape[ax], inner, op);
      const tol = op === 'max' ? 0 : 1e-6;
      expect(worstRatio(got, ref.out, ref.mag, tol, 1e-30)).toBeLessThanOrEqual(1);
    }
  });

  it('keeps dims on request and is bit-for-bit repeatable', async () => {
    const gpu = await getGpu();
    const x = gpu.tensor(values(3 * 50_000, 9), [3, 50_000]);
    const a = reduce(gpu, x, 'sum', 1, true);
    expect(a.shape).toEqual([3, 1]);
    const first = await gpu.readF32(a);
    for (let i = 0; i < 3; i++) expect(await gpu.readF32(reduce(gpu, x, 'sum', 1, true))).toEqual(first);
  });

  it('an empty axis sums to zero and has no max', async () => {
    const gpu = await getGpu();
    const x = gpu.zeros([3, 0]);
    expect(Array.from(await gpu.readF32(reduce(gpu, x, 'sum', 1)))).toEqual([0, 0, 0]);
    expect(() => reduce(gpu, x, 'max', 1)).toThrow(/empty axis/);
    expect(() => reduce(gpu, x, 'sum', 2)).toThrow(/axis 2 is out of range/);
  });
});
