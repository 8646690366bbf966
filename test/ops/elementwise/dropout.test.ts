// Dropout against the CPU reference of its hashed mask: exact values, the kept fraction, seeds and streams
// giving other masks, the backward pass as the same mask, and a central-difference check.

import { describe, expect, it } from 'vitest';
import { dropout, dropoutBackward, dropoutThreshold } from '../../../src/ops/elementwise/dropout.js';
import { dropoutMaskRef } from '../../helpers/cnn-reference.js';
import { useGpu } from '../../helpers/gpu.js';
import { dot, numericGrad, worstVsMax } from '../../helpers/grad-check.js';
import { values } from '../../helpers/reference.js';

const getGpu = useGpu();

describe('dropout', () => {
  it.each([
    [[7, 13], 0.5, 0, 0],
    [[3, 5, 11, 9], 0.2, 12345, 3],
    [[4097], 0.9, 0xffffffff, 1],
    [[2, 64], 0, 7, 0],
    [[2, 64], 1, 7, 0],
  ])(
    '%j, p = %f, seed %i, stream %i: exactly x * mask / (1 - p), as the reference',
    async (shape, p, seed, stream) => {
      const gpu = await getGpu();
      const n = shape.reduce((a, d) => a * d, 1);
      const x = values(n, 3);
      const mask = dropoutMaskRef(n, p, seed, stream);
      const got = await gpu.scope(async () => {
        const out = dropout(gpu, gpu.tensor(x, shape), { p, seed, stream });
        expect(out.shape).toEqual(shape);
        return gpu.readF32(out);
      });
      // f32 product of two f32 values: correctly rounded on both sides; dropped elements are +0.
      expect(Array.from(got)).toEqual(
        Array.from(x, (v, i) => (mask[i] === 0 ? 0 : Math.fround(v * mask[i]))),
      );
      if (p === 0) expect(Array.from(got)).toEqual(Array.from(x));
      if (p === 1) expect(got.every((v) => v === 0)).toBe(true);
    },
  );

  it('keeps about 1 - p of the elements; another seed or stream gives another mask', async () => {
    const gpu = await getGpu();
    const n = 1 << 16;
    const ones = new Float32Array(n).fill(1);
    const kept = async (seed: number, stream: number) => {
      const out = await gpu.scope(async () =>
        gpu.readF32(dropout(gpu, gpu.tensor(ones, [n]), { p: 0.3, seed, stream })),
      );
      return out.map((v) => (v !== 0 ? 1 : 0));
    };
    const a = await kept(1, 0);
    const frac = a.reduce((s, v) => s + v, 0) / n;
    // Binomial std of the fraction is sqrt(0.21 / 65536) ~ 0.0018: 5 sigma.
    expect(Math.abs(frac - 0.7)).toBeLessThan(0.01);
    for (const [seed, stream] of [
      [2, 0],
      [1, 1],
    ]) {
      const b = await kept(seed, stream);
      let same = 0;
      for (let i = 0; i < n; i++) same += a[i] === b[i] ? 1 : 0;
      // Independent masks agree on 0.7^2 + 0.3^2 = 58% of the elements.
      expect(Math.abs(same / n - 0.58)).toBeLessThan(0.01);
    }
    expect(Array.from(await kept(1, 0))).toEqual(Array.from(a));
  });

  it('backward is the same mask: matches central differences', async () => {
    const gpu = await getGpu();
    const shape = [3, 37];
    const x = values(111, 5);
    const r = values(111, 6);
    const opts = { p: 0.4, seed: 99, stream: 2 };
    const mask = dropoutMaskRef(111, opts.p, opts.seed, opts.stream);
    const dx = await gpu.scope(async () => gpu.readF32(dropoutBackward(gpu, gpu.tensor(r, shape), opts)));
    const want = numericGrad(
      x,
      (v) =>
        dot(
          v.map((a, i) => a * mask[i]),
          r,
        ),
      1e-3,
    );
    expect(worstVsMax(dx, want, 1e-6)).toBeLessThanOrEqual(1);
  });

  it('rejects p outside [0, 1] and a seed that is not a u32, naming them', async () => {
    const gpu = await getGpu();
    const x = gpu.zeros([4]);
    expect(() => dropout(gpu, x, { p: 1.5, seed: 0 })).toThrow(/p must be in \[0, 1\], got 1.5/);
    expect(() => dropout(gpu, x, { p: 0.5, seed: -1 })).toThrow(/seed must be an integer/);
    expect(() => dropout(gpu, x, { p: 0.5, seed: 0, stream: 0.5 })).toThrow(/stream must be an integer/);
    expect(dropoutThreshold(0.5)).toBe(1 << 23);
    x.dispose();
  });
});
