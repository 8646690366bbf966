import { describe, expect, it } from 'vitest';
import { softmaxCrossEntropy, uploadLabels } from '../../../src/ops/norm/cross-entropy.js';
import { crossEntropyRef } from '../../helpers/cnn-reference.js';
import { useGpu } from '../../helpers/gpu.js';
import { numericGrad, worstVsMax } from '../../helpers/grad-check.js';
import { values } from '../../helpers/reference.js';

const getGpu = useGpu();

describe('softmax cross-entropy', () => {
  it.each([
    [1, 1, 0],
    [1, 10, 0],
    [3, 10, 0.1],
    [64, 10, 0],
    [5, 1000, 0.2],
    [7, 3, 1],
  ])('%i rows x %i classes, smoothing %f: loss and dlogits', async (rows, cols, smoothing) => {
    const gpu = await getGpu();
    const x = values(rows * cols, rows + cols, 8).map((v, i) => v + (i % 5 === 0 ? 40 : 0));
    const labels = Array.from({ length: rows }, (_, i) => (i * 7 + 3) % cols);
    const got = await gpu.scope(async () => {
      const r = softmaxCrossEntropy(gpu, gpu.tensor(x, [rows, cols]), uploadLabels(gpu, labels, cols), {
        labelSmoothing: smoothing,
      });
      expect(r.loss.shape).toEqual([1]);
      return {
        loss: (await gpu.readF32(r.loss))[0],
        perSample: await gpu.readF32(r.perSample),
        dx: await gpu.readF32(r.dlogits as never),
      };
    });
    const ref = crossEntropyRef(x, labels, cols, smoothing);
    // log-sum-exp of logits up to ~50 in f32: absolute error ~ 1e-5 per row.
    expect(Math.abs(got.loss - ref.loss)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(ref.loss)));
    expect(worstVsMax(got.perSample, ref.perSample, 1e-6, 2e-5)).toBeLessThanOrEqual(1);
    const dx = numericGrad(x, (v) => crossEntropyRef(v, labels, cols, smoothing).loss, 1e-4);
    expect(worstVsMax(got.dx, dx, 1e-5, 1e-7 / rows)).toBeLessThanOrEqual(1);
  });

  it('loss only, without the gradient', async () => {
    const gpu = await getGpu();
    const r = softmaxCrossEntropy(gpu, gpu.tensor([0, 0, 0, 0], [2, 2]), uploadLabels(gpu, [0, 1], 2), {
      grad: false,
    });
    expect(r.dlogits).toBeUndefined();
    expect((await gpu.readF32(r.loss))[0]).toBeCloseTo(Math.LN2, 6);
  });

  it('validates labels on the CPU at upload', async () => {
    const gpu = await getGpu();
    expect(() => uploadLabels(gpu, [0, 3, 10], 10)).toThrow(
      /label 2 is 10, expected an integer in \[0, 10\)/,
    );
    expect(() => uploadLabels(gpu, [0, -1], 10)).toThrow(/label 1 is -1/);
    expect(() => uploadLabels(gpu, [0.5], 10)).toThrow(/label 0 is 0.5/);
    const logits = gpu.zeros([3, 4]);
    expect(() => softmaxCrossEntropy(gpu, logits, uploadLabels(gpu, [0, 1], 4))).toThrow(
      /labels must be \[3\]/,
    );
  });
});
