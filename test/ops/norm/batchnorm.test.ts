import { describe, expect, it } from 'vitest';
import {
  batchNorm2dBackward,
  batchNorm2dEval,
  batchNorm2dTrain,
  channelSum,
  elementSteps,
} from '../../../src/ops/norm/batchnorm.js';
import { batchNormRef } from '../../helpers/cnn-reference.js';
import { useGpu } from '../../helpers/gpu.js';
import { dot, numericGrad, worstVsMax } from '../../helpers/grad-check.js';
import { values, worstRatio } from '../../helpers/reference.js';

const getGpu = useGpu();
// Forward: outputs are O(1) after normalisation; f32 statistics over <= a few thousand values.
const REL = 1e-5;
// Backward: central differences (eps 1e-4) are good to ~1e-8 relative. dx = gamma invstd (dy - mean(dy) -
// xhat mean(dy xhat)) cancels terms of size gamma invstd |dy| in f32 (badly so with two values per
// channel, where 1 - xhat^2 ~ eps / var), so the absolute floor is 1e-5 of that scale.
const GRAD_REL = 5e-5;
const CANCEL = 1e-5;
const EPS_FD = 1e-4;

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function inputs(shape: number[], offset = 0) {
  const c = shape[1];
  const x = values(prod(shape), prod(shape) + c, 2).map(
    (v, i) => v + offset + (Math.floor(i / (shape[2] * shape[3])) % c),
  );
  const gamma = values(c, 5).map((v) => 1 + 0.5 * v);
  const beta = values(c, 6);
  const rm = values(c, 7, 0.1);
  const rv = values(c, 8, 0.2).map((v) => 1 + v);
  return { x, gamma, beta, rm, rv };
}

describe('batch norm 2-D', () => {
  it.each([
    [[3, 5, 7, 9]],
    [[1, 3, 5, 5]],
    [[4, 2, 8, 8]],
    [[2, 7, 1, 1]],
    [[64, 3, 4, 4]],
    [[5, 4, 3, 3]],
    [[4, 3, 7, 7]],
    [[8, 1, 7, 7]],
  ])('training forward, running stats and eval forward on %j', async (shape) => {
    const gpu = await getGpu();
    const { x, gamma, beta, rm, rv } = inputs(shape);
    const momentum = 0.1;
    const eps = 1e-5;
    const got = await gpu.scope(async () => {
      const params = {
        weight: gpu.tensor(gamma, [shape[1]]),
        bias: gpu.tensor(beta, [shape[1]]),
        runningMean: gpu.tensor(rm, [shape[1]]),
        runningVar: gpu.tensor(rv, [shape[1]]),
      };
      const tx = gpu.tensor(x, shape);
      const { out, stats } = batchNorm2dTrain(gpu, tx, params, { momentum, eps });
      const evalOut = batchNorm2dEval(gpu, tx, params, { eps });
      return {
        out: await gpu.readF32(out),
        stats: await gpu.readF32(stats),
        rm: await gpu.readF32(params.runningMean),
        rv: await gpu.readF32(params.runningVar),
        evalOut: await gpu.readF32(evalOut),
      };
    });
    const ref = batchNormRef(x, shape, gamma, beta, eps);
    expect(worstVsMax(got.out, ref.out, REL)).toBeLessThanOrEqual(1);
    const c = shape[1];
    const count = prod(shape) / c;
    expect(worstRatio(got.stats.subarray(0, c), ref.mean, 1, 1e-6, 0)).toBeLessThanOrEqual(1);
    expect(worstRatio(got.stats.subarray(c), ref.variance, ref.variance, 1e-5, 1e-7)).toBeLessThanOrEqual(1);
    const wantRm = ref.mean.map((m, i) => (1 - momentum) * rm[i] + momentum * m);
    const wantRv = ref.variance.map((v, i) => (1 - momentum) * rv[i] + (momentum * v * count) / (count - 1));
    expect(worstRatio(got.rm, wantRm, 1, 1e-6, 0)).toBeLessThanOrEqual(1);
    expect(worstRatio(got.rv, wantRv, wantRv, 1e-5, 0)).toBeLessThanOrEqual(1);
    // Eval mode reads the running statistics as they are after the update.
    const evalRef = batchNormRef(x, shape, gamma, beta, eps, { mean: got.rm, variance: got.rv });
    expect(worstVsMax(got.evalOut, evalRef.out, REL)).toBeLessThanOrEqual(1);
  });

  it('the shapes above reach every elementwise path: vec4, four scalars across planes, one scalar', () => {
    expect(elementSteps(4 * 3 * 49, 49)).toEqual({ vec4: false, quad: true, total: 147 });
    expect(elementSteps(8 * 49, 49).quad).toBe(true); // one channel: the next plane wraps to channel 0
    expect(elementSteps(40 * 2 * 6, 6).quad).toBe(true);
    expect(elementSteps(3 * 5 * 63, 63)).toEqual({ vec4: false, quad: false, total: 945 });
    expect(elementSteps(2 * 7, 1).quad).toBe(false); // four scalars could span more than two planes
    expect(elementSteps(4 * 2 * 16, 16)).toEqual({ vec4: true, quad: false, total: 32 });
  });

  it('two-pass statistics stay accurate with a large mean', async () => {
    const gpu = await getGpu();
    const shape = [8, 3, 6, 6];
    const { x, gamma, beta, rm, rv } = inputs(shape, 1000);
    const out = batchNorm2dTrain(gpu, gpu.tensor(x, shape), {
      weight: gpu.tensor(gamma, [3]),
      bias: gpu.tensor(beta, [3]),
      runningMean: gpu.tensor(rm, [3]),
      runningVar: gpu.tensor(rv, [3]),
    }).out;
    const ref = batchNormRef(x, shape, gamma, beta, 1e-5);
    // x itself is only f32-exact to ~6e-5 at 1000; relative to the unit spread that is the floor.
    expect(worstVsMax(await gpu.readF32(out), ref.out, 2e-4)).toBeLessThanOrEqual(1);
  });

  it('fused ReLU', async () => {
    const gpu = await getGpu();
    const shape = [2, 3, 5, 4];
    const { x, gamma, beta, rm, rv } = inputs(shape);
    const params = {
      weight: gpu.tensor(gamma, [3]),
      bias: gpu.tensor(beta, [3]),
      runningMean: gpu.tensor(rm, [3]),
      runningVar: gpu.tensor(rv, [3]),
    };
    const got = await gpu.readF32(batchNorm2dTrain(gpu, gpu.tensor(x, shape), params, { relu: true }).out);
    const ref = batchNormRef(x, shape, gamma, beta, 1e-5).out.map((v) => Math.max(0, v));
    expect(worstVsMax(got, ref, REL)).toBeLessThanOrEqual(1);
    const ev = await gpu.readF32(batchNorm2dEval(gpu, gpu.tensor(x, shape), params, { relu: true }));
    expect(ev.every((v) => v >= 0)).toBe(true);
  });

  it('fused residual add and ReLU, with the running statistics still updated', async () => {
    const gpu = await getGpu();
    for (const shape of [
      [2, 3, 5, 4],
      [3, 2, 3, 3],
      [4, 5, 3, 3],
    ]) {
      const c = shape[1];
      const { x, gamma, beta, rm, rv } = inputs(shape);
      const res = values(prod(shape), 42);
      const params = {
        weight: gpu.tensor(gamma, [c]),
        bias: gpu.tensor(beta, [c]),
        runningMean: gpu.tensor(rm, [c]),
        runningVar: gpu.tensor(rv, [c]),
      };
      const tres = gpu.tensor(res, shape);
      const tx = gpu.tensor(x, shape);
      const got = await gpu.readF32(batchNorm2dTrain(gpu, tx, params, { relu: true, residual: tres }).out);
      const ref = batchNormRef(x, shape, gamma, beta, 1e-5);
      const want = ref.out.map((v, i) => Math.max(0, v + res[i]));
      expect(worstVsMax(got, want, REL)).toBeLessThanOrEqual(1);
      const newRm = await gpu.readF32(params.runningMean);
      expect(
        worstRatio(
          newRm,
          ref.mean.map((m, i) => 0.9 * rm[i] + 0.1 * m),
          1,
          1e-6,
          0,
        ),
      ).toBeLessThanOrEqual(1);
      const ev = await gpu.readF32(batchNorm2dEval(gpu, tx, params, { residual: tres }));
      const evRef = batchNormRef(x, shape, gamma, beta, 1e-5, {
        mean: newRm,
        variance: await gpu.readF32(params.runningVar),
      }).out.map((v, i) => v + res[i]);
      expect(worstVsMax(ev, evRef, REL)).toBeLessThanOrEqual(1);
    }
    expect(() =>
      batchNorm2dEval(
        gpu,
        gpu.zeros([2, 3, 4, 4]),
        {
          weight: gpu.zeros([3]),
          bias: gpu.zeros([3]),
          runningMean: gpu.zeros([3]),
          runningVar: gpu.zeros([3]),
        },
        { residual: gpu.zeros([2, 3, 4, 5]) },
      ),
    ).toThrow(/residual must be f32 \[2, 3, 4, 4\]/);
  });

  it.each([[[3, 5, 7, 9]], [[1, 3, 5, 5]], [[4, 2, 4, 4]], [[2, 3, 1, 1]], [[40, 2, 2, 3]], [[4, 3, 7, 7]]])(
    'training backward against central differences on %j',
    async (shape) => {
      const gpu = await getGpu();
      const { x, gamma, beta, rm, rv } = inputs(shape);
      const c = shape[1];
      const eps = 1e-5;
      const r = values(prod(shape), 99);
      const got = await gpu.scope(async () => {
        const tx = gpu.tensor(x, shape);
        const weight = gpu.tensor(gamma, [c]);
        const params = {
          weight,
          bias: gpu.tensor(beta, [c]),
          runningMean: gpu.tensor(rm, [c]),
          runningVar: gpu.tensor(rv, [c]),
        };
        const { stats } = batchNorm2dTrain(gpu, tx, params, { eps });
        const g = batchNorm2dBackward(gpu, gpu.tensor(r, shape), tx, weight, stats, { eps });
        return {
          dx: await gpu.readF32(g.dx),
          dg: await gpu.readF32(g.dweight),
          db: await gpu.readF32(g.dbias),
        };
      });
      const loss = (xv: ArrayLike<number>, gv: ArrayLike<number>, bv: ArrayLike<number>) =>
        dot(batchNormRef(xv, shape, gv, bv, eps).out, r);
      const ref = batchNormRef(x, shape, gamma, beta, eps);
      const scale =
        Math.max(...Array.from(ref.variance, (v, i) => Math.abs(gamma[i]) / Math.sqrt(v + eps))) *
        Math.max(...Array.from(r, Math.abs));
      const dx = numericGrad(x, (v) => loss(v, gamma, beta), EPS_FD);
      expect(worstVsMax(got.dx, dx, GRAD_REL, CANCEL * scale)).toBeLessThanOrEqual(1);
      expect(
        worstVsMax(
          got.dg,
          numericGrad(gamma, (v) => loss(x, v, beta), EPS_FD),
          GRAD_REL,
        ),
      ).toBeLessThanOrEqual(1);
      expect(
        worstVsMax(
          got.db,
          numericGrad(beta, (v) => loss(x, gamma, v), EPS_FD),
          GRAD_REL,
        ),
      ).toBeLessThanOrEqual(1);
    },
  );

  it.each([[[3, 5, 7, 9]], [[4, 2, 4, 4]], [[4, 2, 3, 3]], [[2, 2, 5, 6]]])(
    'backward through a fused ReLU (reluOutput mask) on %j',
    async (shape) => {
      const gpu = await getGpu();
      const { x, gamma, beta, rm, rv } = inputs(shape);
      const c = shape[1];
      const r = values(prod(shape), 98);
      const got = await gpu.scope(async () => {
        const tx = gpu.tensor(x, shape);
        const weight = gpu.tensor(gamma, [c]);
        const params = {
          weight,
          bias: gpu.tensor(beta, [c]),
          runningMean: gpu.tensor(rm, [c]),
          runningVar: gpu.tensor(rv, [c]),
        };
        const { out, stats } = batchNorm2dTrain(gpu, tx, params, { relu: true });
        const g = batchNorm2dBackward(gpu, gpu.tensor(r, shape), tx, weight, stats, { reluOutput: out });
        return {
          dx: await gpu.readF32(g.dx),
          dg: await gpu.readF32(g.dweight),
          db: await gpu.readF32(g.dbias),
        };
      });
      const loss = (xv: ArrayLike<number>, gv: ArrayLike<number>, bv: ArrayLike<number>) =>
        dot(
          batchNormRef(xv, shape, gv, bv, 1e-5).out.map((v) => Math.max(0, v)),
          r,
        );
      const ref = batchNormRef(x, shape, gamma, beta, 1e-5);
      const scale = Math.max(...Array.from(ref.variance, (v, i) => Math.abs(gamma[i]) / Math.sqrt(v + 1e-5)));
      expect(
        worstVsMax(
          got.dx,
          numericGrad(x, (v) => loss(v, gamma, beta), EPS_FD),
          GRAD_REL,
          CANCEL * scale,
        ),
      ).toBeLessThanOrEqual(1);
      expect(
        worstVsMax(
          got.dg,
          numericGrad(gamma, (v) => loss(x, v, beta), EPS_FD),
          GRAD_REL,
        ),
      ).toBeLessThanOrEqual(1);
      expect(
        worstVsMax(
          got.db,
          numericGrad(beta, (v) => loss(x, gamma, v), EPS_FD),
          GRAD_REL,
        ),
      ).toBeLessThanOrEqual(1);
    },
  );

  it('per-channel sums are deterministic and match the CPU', async () => {
    const gpu = await getGpu();
    const shape = [33, 5, 3, 7];
    const x = values(prod(shape), 3);
    const t = gpu.tensor(x, shape);
    const first = await gpu.readF32(channelSum(gpu, t));
    const again = await gpu.readF32(channelSum(gpu, t));
    expect(Buffer.from(again.buffer).equals(Buffer.from(first.buffer))).toBe(true);
    const want = new Float64Array(5);
    const mag = new Float64Array(5);
    x.forEach((v, i) => {
      want[Math.floor(i / 21) % 5] += v;
      mag[Math.floor(i / 21) % 5] += Math.abs(v);
    });
    expect(worstRatio(first, want, mag, 1e-6, 0)).toBeLessThanOrEqual(1);
  });

  it('rejects bad parameters and a single value per channel in training', async () => {
    const gpu = await getGpu();
    const p = (c: number) => ({
      weight: gpu.zeros([c]),
      bias: gpu.zeros([c]),
      runningMean: gpu.zeros([c]),
      runningVar: gpu.zeros([c]),
    });
    expect(() => batchNorm2dTrain(gpu, gpu.zeros([2, 3, 4, 4]), p(4))).toThrow(/weight must be f32 \[3\]/);
    expect(() => batchNorm2dTrain(gpu, gpu.zeros([1, 3, 1, 1]), p(3))).toThrow(
      /more than one value per channel/,
    );
    expect(() => batchNorm2dEval(gpu, gpu.zeros([2, 3, 4]), p(3))).toThrow(/\[N, C, H, W\]/);
  });
});
