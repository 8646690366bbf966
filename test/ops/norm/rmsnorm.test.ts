import { describe, expect, it } from 'vitest';
import { rmsNorm, rmsNormBackward } from '../../../src/ops/norm/rmsnorm.js';
import { useGpu } from '../../helpers/gpu.js';
import { dot, numericGrad, pick, sampleIndices, worstVsMax } from '../../helpers/grad-check.js';
import { rmsNormRef } from '../../helpers/llm-reference.js';
import { values } from '../../helpers/reference.js';

const getGpu = useGpu();
// Forward: one f32 sum of squares per row and a few roundings per element.
const REL = 3e-6;
// Backward: f32 gradients against f64 central differences (eps 1e-5: truncation ~1e-10 relative, f64
// rounding ~1e-11). dx = r (g - xhat mean(g xhat)) cancels terms of size r |g| (completely so for
// hidden = 1, where dx ~ eps), so the absolute floor is a few f32 ulps of that scale.
const GRAD_REL = 3e-5;
const CANCEL = 1e-6;
const EPS_FD = 1e-5;

describe('RMSNorm', () => {
  it.each([
    [[1, 7], 1e-6],
    [[3, 5, 9], 1e-5],
    [[130, 33], 1e-6],
    [[2, 1000], 1e-5],
    [[1, 1], 1e-6],
  ])('%j (eps %f): forward, and dx / dweight against central differences', async (shape, eps) => {
    const gpu = await getGpu();
    const hidden = shape.at(-1) as number;
    const n = shape.reduce((a, b) => a * b, 1);
    // Rows of different scales, one nearly zero (where eps matters).
    const x = values(n, n + hidden, 2).map(
      (v, i) => v * (Math.floor(i / hidden) % 3 === 1 ? 0.05 : 1 + (i % 5)),
    );
    const w = values(hidden, 7).map((v) => 1 + 0.5 * v);
    const r = values(n, 99);
    const got = await gpu.scope(async () => {
      const tx = gpu.tensor(x, shape);
      const tw = gpu.tensor(w, [hidden]);
      const { out, rstd } = rmsNorm(gpu, tx, tw, eps);
      const g = rmsNormBackward(gpu, gpu.tensor(r, shape), tx, tw, rstd);
      return { out: await gpu.readF32(out), dx: await gpu.readF32(g.dx), dw: await gpu.readF32(g.dweight) };
    });
    expect(worstVsMax(got.out, rmsNormRef(x, w, hidden, eps), REL)).toBeLessThanOrEqual(1);
    const idx = sampleIndices(n, 200);
    const fdx = numericGrad(x, (v) => dot(rmsNormRef(v, w, hidden, eps), r), EPS_FD, idx);
    let scale = 0;
    for (let i = 0; i < n; i++) {
      const row = Math.floor(i / hidden);
      let ss = 0;
      for (let c = 0; c < hidden; c++) ss += x[row * hidden + c] ** 2;
      scale = Math.max(scale, Math.abs((r[i] * w[i % hidden]) / Math.sqrt(ss / hidden + eps)));
    }
    expect(worstVsMax(pick(got.dx, idx), fdx, GRAD_REL, CANCEL * scale)).toBeLessThanOrEqual(1);
    const fdw = numericGrad(w, (v) => dot(rmsNormRef(x, v, hidden, eps), r), EPS_FD);
    expect(worstVsMax(got.dw, fdw, GRAD_REL)).toBeLessThanOrEqual(1);
  });

  it('dweight is bit-identical across runs (fixed-order folds)', async () => {
    const gpu = await getGpu();
    const shape = [300, 17];
    const x = values(300 * 17, 4);
    const w = values(17, 5);
    const r = values(300 * 17, 6);
    const run = () =>
      gpu.scope(async () => {
        const tx = gpu.tensor(x, shape);
        const tw = gpu.tensor(w, [17]);
        const { rstd } = rmsNorm(gpu, tx, tw, 1e-5);
        return gpu.readF32(rmsNormBackward(gpu, gpu.tensor(r, shape), tx, tw, rstd).dweight);
      });
    expect(await run()).toEqual(await run());
  });

  it('rejects a weight of the wrong size', async () => {
    const gpu = await getGpu();
    await gpu.scope(() => {
      expect(() => rmsNorm(gpu, gpu.zeros([2, 5]), gpu.zeros([4]), 1e-5)).toThrow(/weight must be \[5\]/);
    });
  });
});
