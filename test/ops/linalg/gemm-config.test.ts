import { describe, expect, it } from 'vitest';
import { chooseGemmTiles } from '../../../src/ops/linalg/gemm-config.js';

describe('chooseGemmTiles', () => {
  it('uses the large tile and no split for big square products', () => {
    for (const isCpu of [true, false]) {
      const t = chooseGemmTiles({ m: 1024, n: 1024, k: 1024, batch: 1 }, isCpu);
      expect(t.kind).toBe('large');
      expect(t.splits).toBe(1);
      expect(t.kPerSplit).toBeGreaterThanOrEqual(1024);
    }
  });

  it('narrows the row tile for skinny and single-row products', () => {
    expect(chooseGemmTiles({ m: 16, n: 4096, k: 64, batch: 1 }, true).kind).toBe('skinny');
    const gemv = chooseGemmTiles({ m: 1, n: 4096, k: 4096, batch: 1 }, true);
    expect(gemv.kind).toBe('tiny');
    expect(gemv.tm).toBe(1);
  });

  it('splits K when few tiles face a long K, with slices that are multiples of 4 and cover K', () => {
    for (const [isCpu, m] of [
      [true, 16],
      [false, 64],
    ] as const) {
      const t = chooseGemmTiles({ m, n: m, k: 16384, batch: 1 }, isCpu);
      expect(t.splits).toBeGreaterThan(1);
      expect(t.kPerSplit % 4).toBe(0);
      expect(t.splits * t.kPerSplit).toBeGreaterThanOrEqual(16384);
      expect((t.splits - 1) * t.kPerSplit).toBeLessThan(16384);
    }
  });

  it('does not split short K or shapes that already fill the device', () => {
    expect(chooseGemmTiles({ m: 64, n: 64, k: 256, batch: 1 }, true).splits).toBe(1);
    expect(chooseGemmTiles({ m: 4096, n: 4096, k: 64, batch: 1 }, false).splits).toBe(1);
    expect(chooseGemmTiles({ m: 64, n: 64, k: 16384, batch: 64 }, true).splits).toBe(1);
  });

  it('splits more on a GPU, which has more workgroups to fill, than on a CPU adapter', () => {
    const shape = { m: 128, n: 128, k: 8192, batch: 1 };
    expect(chooseGemmTiles(shape, false).splits).toBeGreaterThan(chooseGemmTiles(shape, true).splits);
  });
});
