import { describe, expect, it } from 'vitest';
import { swiglu, swigluBackward } from '../../../src/ops/llm/swiglu.js';
import { useGpu } from '../../helpers/gpu.js';
import { dot, numericGrad, worstVsMax } from '../../helpers/grad-check.js';
import { siluRef } from '../../helpers/llm-reference.js';
import { values } from '../../helpers/reference.js';

const getGpu = useGpu();
// exp in f32 (a few ulps on lavapipe) and three roundings.
const REL = 4e-6;
const GRAD_REL = 2e-5;
const EPS_FD = 1e-3;

function ref(g: ArrayLike<number>, u: ArrayLike<number>): Float64Array {
  return Float64Array.from(g, (v, i) => siluRef(v) * u[i]);
}

describe('SwiGLU', () => {
  it.each([[[7, 5]], [[3, 1, 13]], [[1, 1]], [[4, 300]]])('separate gate and up %j', async (shape) => {
    const gpu = await getGpu();
    const n = shape.reduce((a, b) => a * b, 1);
    const g = values(n, n, 6); // includes large |g| where sigmoid saturates
    const u = values(n, n + 1, 2);
    const r = values(n, n + 2);
    const got = await gpu.scope(async () => {
      const tg = gpu.tensor(g, shape);
      const tu = gpu.tensor(u, shape);
      const out = swiglu(gpu, { gate: tg, up: tu });
      const { dgate, dup } = swigluBackward(gpu, gpu.tensor(r, shape), { gate: tg, up: tu });
      return { out: await gpu.readF32(out), dg: await gpu.readF32(dgate), du: await gpu.readF32(dup) };
    });
    expect(worstVsMax(got.out, ref(g, u), REL)).toBeLessThanOrEqual(1);
    const fdg = numericGrad(g, (v) => dot(ref(v, u), r), EPS_FD);
    const fdu = numericGrad(u, (v) => dot(ref(g, v), r), EPS_FD);
    expect(worstVsMax(got.dg, fdg, GRAD_REL)).toBeLessThanOrEqual(1);
    expect(worstVsMax(got.du, fdu, GRAD_REL)).toBeLessThanOrEqual(1);
  });

  it.each([[[4, 18]], [[2, 3, 2]]])('packed gate-up %j (gate first)', async (shape) => {
    const gpu = await getGpu();
    const n = shape.reduce((a, b) => a * b, 1);
    const width = (shape.at(-1) as number) / 2;
    const gu = values(n, n + 5, 4);
    const rows = n / (2 * width);
    const split = (v: ArrayLike<number>) => {
      const g = new Float64Array(n / 2);
      const u = new Float64Array(n / 2);
      for (let i = 0; i < rows; i++) {
        for (let c = 0; c < width; c++) {
          g[i * width + c] = v[i * 2 * width + c];
          u[i * width + c] = v[i * 2 * width + width + c];
        }
      }
      return ref(g, u);
    };
    const r = values(n / 2, 3);
    const outShape = [...shape.slice(0, -1), width];
    const got = await gpu.scope(async () => {
      const t = gpu.tensor(gu, shape);
      const out = swiglu(gpu, { packed: t });
      expect(out.shape).toEqual(outShape);
      const { dpacked } = swigluBackward(gpu, gpu.tensor(r, outShape), { packed: t });
      expect(dpacked.shape).toEqual(shape);
      return { out: await gpu.readF32(out), d: await gpu.readF32(dpacked) };
    });
    expect(worstVsMax(got.out, split(gu), REL)).toBeLessThanOrEqual(1);
    const fd = numericGrad(gu, (v) => dot(split(v), r), EPS_FD);
    expect(worstVsMax(got.d, fd, GRAD_REL)).toBeLessThanOrEqual(1);
  });

  it('rejects mismatched gate and up', async () => {
    const gpu = await getGpu();
    await gpu.scope(() => {
      expect(() => swiglu(gpu, { gate: gpu.zeros([2, 3]), up: gpu.zeros([2, 4]) })).toThrow(/one shape/);
      expect(() => swiglu(gpu, { packed: gpu.zeros([2, 3]) })).toThrow(/even last axis/);
    });
  });
});
