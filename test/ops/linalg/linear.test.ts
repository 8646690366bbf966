import { describe, expect, it } from 'vitest';
import { linear, linearBackward } from '../../../src/ops/linalg/linear.js';
import { useGpu } from '../../helpers/gpu.js';
import { dot, numericGrad, worstVsMax } from '../../helpers/grad-check.js';
import { values } from '../../helpers/reference.js';

const getGpu = useGpu();

function linearRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  rows: number,
  inF: number,
  outF: number,
) {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outF; o++) {
      let s = b[o];
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = s;
    }
  return y;
}

describe('linear', () => {
  it.each([
    [1, 1, 1],
    [3, 64, 10],
    [64, 65, 7],
    [5, 17, 33],
  ])('B=%i in=%i out=%i: forward and gradients', async (rows, inF, outF) => {
    const gpu = await getGpu();
    const x = values(rows * inF, 1);
    const w = values(outF * inF, 2);
    const b = values(outF, 3);
    const r = values(rows * outF, 4);
    const got = await gpu.scope(async () => {
      const tx = gpu.tensor(x, [rows, inF]);
      const tw = gpu.tensor(w, [outF, inF]);
      const y = linear(gpu, tx, tw, gpu.tensor(b, [outF]));
      const g = linearBackward(gpu, tx, tw, gpu.tensor(r, [rows, outF]), { biasGrad: true });
      return {
        y: await gpu.readF32(y),
        dx: await gpu.readF32(g.dx as never),
        dw: await gpu.readF32(g.dw),
        db: await gpu.readF32(g.db as never),
      };
    });
    expect(worstVsMax(got.y, linearRef(x, w, b, rows, inF, outF), 1e-5)).toBeLessThanOrEqual(1);
    const loss = (xv: ArrayLike<number>, wv: ArrayLike<number>, bv: ArrayLike<number>) =>
      dot(linearRef(xv, wv, bv, rows, inF, outF), r);
    expect(
      worstVsMax(
        got.dx,
        numericGrad(x, (v) => loss(v, w, b), 1e-2),
        1e-5,
      ),
    ).toBeLessThanOrEqual(1);
    expect(
      worstVsMax(
        got.dw,
        numericGrad(w, (v) => loss(x, v, b), 1e-2),
        1e-5,
      ),
    ).toBeLessThanOrEqual(1);
    expect(
      worstVsMax(
        got.db,
        numericGrad(b, (v) => loss(x, w, v), 1e-2),
        1e-5,
      ),
    ).toBeLessThanOrEqual(1);
  });

  it('rejects a weight in the wrong layout', async () => {
    const gpu = await getGpu();
    expect(() => linear(gpu, gpu.zeros([2, 3]), gpu.zeros([3, 4]))).toThrow(/weight \[out, in\]/);
  });
});
