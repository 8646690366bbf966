import { describe, expect, it } from 'vitest';
import { reluBackward, shortcutA, shortcutABackward, shortcutAPad } from '../../../src/ops/conv/shortcut.js';
import { shortcutARef } from '../../helpers/cnn-reference.js';
import { useGpu } from '../../helpers/gpu.js';
import { dot, numericGrad, worstVsMax } from '../../helpers/grad-check.js';
import { values } from '../../helpers/reference.js';

const getGpu = useGpu();
const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

describe('option-A shortcut', () => {
  it.each([
    [[2, 16, 10, 12], 32],
    [[1, 3, 5, 7], 6],
    [[3, 5, 9, 8], 10],
    [[2, 4, 1, 1], 8],
    [[1, 2, 4, 4], 2],
  ])('%j with planes %i: forward (exact) and backward', async (shape, planes) => {
    const gpu = await getGpu();
    const x = values(prod(shape), 9);
    const pad = shortcutAPad(planes);
    const ref = shortcutARef(x, shape, pad);
    const r = values(ref.out.length, 10);
    const got = await gpu.scope(async () => {
      const out = shortcutA(gpu, gpu.tensor(x, shape), planes);
      expect(out.shape).toEqual(ref.shape);
      const dx = shortcutABackward(gpu, gpu.tensor(r, ref.shape), shape, planes);
      return { out: await gpu.readF32(out), dx: await gpu.readF32(dx) };
    });
    expect(Array.from(got.out)).toEqual(Array.from(ref.out));
    const dx = numericGrad(x, (v) => dot(shortcutARef(v, shape, pad).out, r), 1e-3);
    expect(worstVsMax(got.dx, dx, 1e-9)).toBeLessThanOrEqual(1);
  });

  it('pads planes // 4 channels per side, as the PyTorch LambdaLayer', () => {
    expect(shortcutAPad(32)).toBe(8);
    expect(shortcutAPad(6)).toBe(1);
  });
});

describe('ReLU backward', () => {
  it('passes dy where y > 0 (zero at exactly 0)', async () => {
    const gpu = await getGpu();
    const y = values(1001, 1).map((v, i) => (i % 7 === 0 ? 0 : v));
    const dy = values(1001, 2);
    const got = await gpu.readF32(reluBackward(gpu, gpu.tensor(dy, [7, 11, 13]), gpu.tensor(y, [7, 11, 13])));
    expect(Array.from(got)).toEqual(Array.from(dy, (v, i) => (y[i] > 0 ? v : 0)));
    expect(() => reluBackward(gpu, gpu.zeros([2, 3]), gpu.zeros([3, 2]))).toThrow(/differ/);
  });
});
