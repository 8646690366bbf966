import { describe, expect, it } from 'vitest';
import {
  IGNORE_INDEX,
  nextTokenTargets,
  tokenCrossEntropy,
  tokenCrossEntropyBackward,
  uploadTargets,
} from '../../../src/ops/llm/token-cross-entropy.js';
import { useGpu } from '../../helpers/gpu.js';
import { numericGrad, pick, sampleIndices, worstVsMax } from '../../helpers/grad-check.js';
import { tokenCrossEntropyRef } from '../../helpers/llm-reference.js';
import { values } from '../../helpers/reference.js';

const getGpu = useGpu();
// lse is an f32 sum of exp over up to 128k terms (|logits| up to ~100): relative to the NLL's size.
const REL = 2e-6;
const GRAD_REL = 3e-5;

function targetsFor(rows: number, vocab: number, seed: number): number[] {
  return Array.from(values(rows, seed), (v, i) =>
    i % 4 === 3 ? IGNORE_INDEX : Math.floor(((v + 1) / 2) * vocab),
  );
}

describe('token cross-entropy', () => {
  it.each([
    [7, 37, 1],
    [1, 1, 1],
    [3, 20_000, 80],
    [2, 128_256, 30],
    [5, 8192, 5],
  ])(
    '%i rows x vocab %i (logit spread %f): loss, lse and the gradient of the mean NLL',
    async (rows, vocab, spread) => {
      const gpu = await getGpu();
      const logits = values(rows * vocab, rows + vocab, spread).map((v, i) => v + (i % 7 === 0 ? spread : 0));
      const targets = targetsFor(rows, vocab, vocab);
      const ref = tokenCrossEntropyRef(logits, targets, vocab);
      const got = await gpu.scope(async () => {
        const tl = gpu.tensor(logits, [rows, vocab]);
        const { targets: tt, count } = uploadTargets(gpu, targets, vocab);
        expect(count).toBe(ref.count);
        const fwd = tokenCrossEntropy(gpu, tl, tt);
        const grad = tokenCrossEntropyBackward(gpu, tl, tt, fwd);
        const scaled = tokenCrossEntropyBackward(gpu, tl, tt, fwd, { scale: 0.5 });
        const result = {
          loss: await gpu.readF32(fwd.loss),
          lse: await gpu.readF32(fwd.lse),
          nll: await gpu.readF32(fwd.nll),
          grad: await gpu.readF32(grad),
          scaled: await gpu.readF32(scaled),
        };
        const inPlace = tokenCrossEntropyBackward(gpu, tl, tt, fwd, { inPlace: true });
        expect(inPlace).toBe(tl);
        return { ...result, inPlace: await gpu.readF32(inPlace) };
      });
      expect(worstVsMax(got.lse, ref.lse, REL)).toBeLessThanOrEqual(1);
      expect(worstVsMax(got.nll, ref.nll, REL, 1e-6)).toBeLessThanOrEqual(1);
      expect(got.loss[1]).toBe(ref.count);
      expect(Math.abs(got.loss[0] - ref.mean)).toBeLessThanOrEqual(
        REL * Math.max(...ref.lse.map(Math.abs)) + 1e-7,
      );
      const idx = sampleIndices(rows * vocab, 300);
      for (const t of targets.keys()) if (targets[t] >= 0) idx.push(t * vocab + targets[t]);
      const fd = numericGrad(logits, (v) => tokenCrossEntropyRef(v, targets, vocab).mean, 1e-4, idx);
      expect(worstVsMax(pick(got.grad, idx), fd, GRAD_REL, 1e-9)).toBeLessThanOrEqual(1);
      // Ignored rows get exactly zero.
      for (let t = 0; t < rows; t++) {
        if (targets[t] < 0)
          expect(got.grad.subarray(t * vocab, (t + 1) * vocab).every((v) => v === 0)).toBe(true);
      }
      const per = ref.count ? 0.5 * ref.count : 0;
      expect(
        worstVsMax(
          got.scaled,
          Float64Array.from(got.grad, (v) => v * per),
          1e-6,
          1e-12,
        ),
      ).toBeLessThanOrEqual(1);
      expect(got.inPlace).toEqual(got.grad);
    },
  );

  it('every row ignored: loss 0, count 0, zero gradient', async () => {
    const gpu = await getGpu();
    const got = await gpu.scope(async () => {
      const tl = gpu.tensor(values(6, 1), [2, 3]);
      const { targets } = uploadTargets(gpu, [-100, -1], 3);
      const fwd = tokenCrossEntropy(gpu, tl, targets);
      return {
        loss: await gpu.readF32(fwd.loss),
        grad: await gpu.readF32(tokenCrossEntropyBackward(gpu, tl, targets, fwd)),
      };
    });
    expect(Array.from(got.loss)).toEqual([0, 0, 0]);
    expect(got.grad.every((v) => v === 0)).toBe(true);
  });

  it('next-token targets ignore the last position of each window; bad targets are rejected', async () => {
    expect(Array.from(nextTokenTargets([5, 6, 7, 1, 2, 3], 2, 3))).toEqual([6, 7, -100, 2, 3, -100]);
    const gpu = await getGpu();
    expect(() => uploadTargets(gpu, [1, 5], 5)).toThrow(/target 1 is 5/);
    expect(() => uploadTargets(gpu, [0.5], 5)).toThrow(/target 0/);
  });
});
