import { describe, expect, it } from 'vitest';
import { gradNorm } from '../../src/ops/reduce/grad-norm.js';
import { Optimizer } from '../../src/train/optimizer.js';
import { cosineLr } from '../../src/train/schedule.js';
import { useGpu } from '../helpers/gpu.js';
import { values, worstRatio } from '../helpers/reference.js';

const getGpu = useGpu();

describe('optimisers (PyTorch update rules)', () => {
  it('SGD with momentum and weight decay matches a float64 reference over several steps', async () => {
    const gpu = await getGpu();
    const n = 1001;
    const p = Float64Array.from(values(n, 1));
    const buf = new Float64Array(n);
    const param = gpu.tensor(Float32Array.from(p), [n]);
    const opt = new Optimizer(gpu, { kind: 'sgd', momentum: 0.9, weightDecay: 5e-3 });
    for (let step = 0; step < 4; step++) {
      const g = values(n, 10 + step);
      const lr = cosineLr(0.1, step, 4);
      opt.step([param], [gpu.tensor(g, [n])], lr);
      for (let i = 0; i < n; i++) {
        buf[i] = 0.9 * buf[i] + g[i] + 5e-3 * p[i];
        p[i] -= lr * buf[i];
      }
    }
    expect(opt.stepCount).toBe(4);
    expect(worstRatio(await gpu.readF32(param), p, 1, 1e-6, 1e-6)).toBeLessThanOrEqual(1);
  });

  it('AdamW with bias correction matches a float64 reference', async () => {
    const gpu = await getGpu();
    const shape = [7, 13];
    const n = 91;
    const p = Float64Array.from(values(n, 2));
    const m = new Float64Array(n);
    const v = new Float64Array(n);
    const param = gpu.tensor(Float32Array.from(p), shape);
    const [b1, b2, eps, wd, lr] = [0.9, 0.95, 1e-8, 0.1, 3e-3];
    const opt = new Optimizer(gpu, { kind: 'adamw', beta1: b1, beta2: b2, eps, weightDecay: wd });
    for (let t = 1; t <= 5; t++) {
      const g = values(n, 20 + t, 0.1);
      opt.step([param], [gpu.tensor(g, shape)], lr);
      for (let i = 0; i < n; i++) {
        p[i] -= lr * wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        p[i] -= (lr * (m[i] / (1 - b1 ** t))) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps);
      }
    }
    expect(worstRatio(await gpu.readF32(param), p, 1, 1e-6, 1e-6)).toBeLessThanOrEqual(1);
  });

  it('keeps its state alive across scopes and rejects mismatched gradients', async () => {
    const gpu = await getGpu();
    const param = gpu.tensor([1, 2, 3], [3]);
    const opt = new Optimizer(gpu, { kind: 'sgd', momentum: 0.5, weightDecay: 0 });
    await gpu.scope(() => opt.step([param], [gpu.tensor([1, 1, 1], [3])], 1));
    await gpu.scope(() => opt.step([param], [gpu.tensor([0, 0, 0], [3])], 1));
    // buf = 1 after the first step, 0.5 after the second: p = x - 1 - 0.5.
    expect(Array.from(await gpu.readF32(param))).toEqual([-0.5, 0.5, 1.5]);
    expect(() => opt.step([param], [gpu.zeros([4])], 1)).toThrow(/gradient is f32 \[4\]/);
  });
});

describe('optimiser checkpoints', () => {
  it('restoring saved state continues exactly like an uninterrupted run', async () => {
    const gpu = await getGpu();
    const g1 = gpu.tensor(values(50, 1), [50]);
    const g2 = gpu.tensor(values(50, 2), [50]);
    const a = gpu.tensor(values(50, 3), [50]);
    const b = gpu.tensor(values(50, 3), [50]);
    const opts = { kind: 'sgd', momentum: 0.9, weightDecay: 1e-3 } as const;
    const first = new Optimizer(gpu, opts);
    first.step([a], [g1], 0.1);
    first.step([b], [g1], 0.1);
    const saved = await gpu.readF32(first.stateFor(b)[0]);
    const second = new Optimizer(gpu, opts);
    second.restore(b, [gpu.tensor(saved, [50])], 1);
    first.step([a], [g2], 0.05);
    second.step([b], [g2], 0.05);
    expect(Array.from(await gpu.readF32(b))).toEqual(Array.from(await gpu.readF32(a)));
    expect(() => second.restore(b, [gpu.zeros([3])])).toThrow(/restore needs 1 state tensors of 50 values/);
  });
});

describe('cosine schedule', () => {
  it('starts at the base rate, halves at mid-way and ends at zero', () => {
    expect(cosineLr(0.01, 0, 100)).toBeCloseTo(0.01, 12);
    expect(cosineLr(0.01, 50, 100)).toBeCloseTo(0.005, 12);
    expect(cosineLr(0.01, 100, 100)).toBeCloseTo(0, 12);
    expect(cosineLr(0.01, 150, 100)).toBeCloseTo(0, 12);
  });
});

describe('gradNorm', () => {
  it('is the float64 global L2 norm over tensors of awkward sizes', async () => {
    const gpu = await getGpu();
    const sizes = [1, 7, 4097, 0, 70_001, 16];
    const data = sizes.map((n, i) => values(n, 40 + i));
    const norm = await gradNorm(
      gpu,
      data.map((d, i) => gpu.tensor(d, [sizes[i]])),
    );
    let ref = 0;
    for (const d of data) for (const x of d) ref += x * x;
    expect(Math.abs(norm - Math.sqrt(ref)) / Math.sqrt(ref)).toBeLessThan(1e-6);
    expect(await gradNorm(gpu, [])).toBe(0);
  });
});
