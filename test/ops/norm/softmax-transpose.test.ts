import { describe, expect, it } from 'vitest';
import { permute, transpose } from '../../../src/ops/linalg/transpose.js';
import { softmax } from '../../../src/ops/norm/softmax.js';
import { useGpu } from '../../helpers/gpu.js';
import { values, worstRatio } from '../../helpers/reference.js';

const getGpu = useGpu();

describe('softmax', () => {
  it.each([
    [1, 1],
    [3, 5],
    [2, 63],
    [7, 1000],
    [1, 130_000],
  ])('%i rows of %i, stable for large logits', async (rows, cols) => {
    const gpu = await getGpu();
    const x = values(rows * cols, cols, 30).map((v, i) => v + (i % 3 === 0 ? 80 : 0));
    const got = await gpu.readF32(softmax(gpu, gpu.tensor(x, [rows, cols])));
    const want = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
      const m = row.reduce((a, b) => Math.max(a, b), -Infinity);
      const e = row.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      e.forEach((v, j) => {
        want[r * cols + j] = v / s;
      });
    }
    expect(worstRatio(got, want, want, 2e-5, 1e-9)).toBeLessThanOrEqual(1);
  });
});

describe('transpose / permute', () => {
  it.each([
    [
      [1, 1],
      [1, 0],
    ],
    [
      [3, 5],
      [1, 0],
    ],
    [
      [2, 3, 4],
      [2, 0, 1],
    ],
    [
      [2, 3, 4, 5],
      [0, 2, 1, 3],
    ],
    [
      [2, 1, 3, 1, 2],
      [4, 3, 2, 1, 0],
    ],
  ])('%j by %j', async (shape, perm) => {
    const gpu = await getGpu();
    const n = shape.reduce((a, b) => a * b, 1);
    const x = values(n, n);
    const t = permute(gpu, gpu.tensor(x, shape), perm);
    const outShape = perm.map((p) => shape[p]);
    expect(t.shape).toEqual(outShape);
    const got = await gpu.readF32(t);
    const inStrides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
    for (let i = 0; i < n; i++) {
      let rest = i;
      let src = 0;
      for (let d = outShape.length - 1; d >= 0; d--) {
        src += (rest % outShape[d]) * inStrides[perm[d]];
        rest = Math.floor(rest / outShape[d]);
      }
      expect(got[i]).toBe(x[src]);
    }
  });

  it('transposes the last two axes of a batch, and keeps integer data exact', async () => {
    const gpu = await getGpu();
    const ints = Int32Array.from({ length: 2 * 3 * 4 }, (_, i) => i - 7);
    const t = transpose(gpu, gpu.tensor(ints, [2, 3, 4], 'i32'));
    expect(t.shape).toEqual([2, 4, 3]);
    expect(Array.from(await gpu.read(t))).toEqual([
      -7, -3, 1, -6, -2, 2, -5, -1, 3, -4, 0, 4, 5, 9, 13, 6, 10, 14, 7, 11, 15, 8, 12, 16,
    ]);
    expect(() => permute(gpu, t, [0, 0, 1])).toThrow(/not a permutation/);
  });
});
