// gemm `into`: C += op(A) op(B) continuing each output's FMA chain, so K done over several calls in order is
// bit-equal to one call over all of K without split-K (the vocabulary-sliced LM head's d hidden).
import { describe, expect, it } from 'vitest';
import { gemm } from '../../../src/ops/linalg/gemm.js';
import { chooseGemmTiles } from '../../../src/ops/linalg/gemm-config.js';
import { useGpu } from '../../helpers/gpu.js';
import { values } from '../../helpers/reference.js';

const getGpu = useGpu();

describe('gemm into', () => {
  for (const [m, n, k, cuts] of [
    [40, 36, 300, [0, 128, 256, 300]],
    [7, 9, 61, [0, 13, 14, 61]],
    [33, 64, 96, [0, 32, 96]],
  ] as const) {
    it(`${m}×${n}×${k} in K slices ${cuts.join('/')} equals one GEMM bit for bit`, async () => {
      const gpu = await getGpu();
      const a = values(m * k, 1);
      const b = values(k * n, 2);
      const tiles = { ...chooseGemmTiles({ m, n, k, batch: 1 }, gpu.adapter.isCpu), splits: 1 };
      tiles.kPerSplit = Math.ceil(k / 4) * 4;
      const whole = await gpu.scope(() =>
        gpu.readF32(gemm(gpu, gpu.tensor(a, [m, k]), gpu.tensor(b, [k, n]), { tiles })),
      );
      const got = await gpu.scope(async () => {
        const c = gpu.zeros([m, n]);
        for (let s = 0; s + 1 < cuts.length; s++) {
          const [k0, k1] = [cuts[s], cuts[s + 1]];
          const as = new Float32Array((k1 - k0) * m);
          for (let i = 0; i < m; i++) as.set(a.subarray(i * k + k0, i * k + k1), i * (k1 - k0));
          const bs = b.subarray(k0 * n, k1 * n);
          gemm(gpu, gpu.tensor(as, [m, k1 - k0]), gpu.tensor(bs, [k1 - k0, n]), { into: c });
        }
        return gpu.readF32(c);
      });
      expect(got).toEqual(whole);
    });
  }

  it('refuses bias, alpha, a wrong shape or split-K', async () => {
    const gpu = await getGpu();
    await gpu.scope(() => {
      const a = gpu.tensor(values(12, 1), [3, 4]);
      const b = gpu.tensor(values(8, 2), [4, 2]);
      expect(() => gemm(gpu, a, b, { into: gpu.zeros([3, 3]) })).toThrow(/into must be f32 \[3, 2\]/);
      expect(() => gemm(gpu, a, b, { into: gpu.zeros([3, 2]), alpha: 2 })).toThrow(/no bias/);
      const tiles = { ...chooseGemmTiles({ m: 3, n: 2, k: 4, batch: 1 }, true), splits: 2 };
      expect(() => gemm(gpu, a, b, { into: gpu.zeros([3, 2]), tiles })).toThrow(/split-K/);
    });
  });
});
