import { describe, expect, it } from 'vitest';
import type { Activation } from '../../../src/ops/elementwise/activation.js';
import { gemm } from '../../../src/ops/linalg/gemm.js';
import { chooseGemmTiles } from '../../../src/ops/linalg/gemm-config.js';
import { needFeature, useGpu } from '../../helpers/gpu.js';
import { act, gemmRef, values, worstRatio } from '../../helpers/reference.js';

const getGpu = useGpu();
// f32 accumulation over K terms: error bounded by a few ulps times sum |a b|.
const REL = 2e-6;
const ABS = 1e-6;

interface Case {
  m: number;
  n: number;
  k: number;
  batch?: number;
  transA?: boolean;
  transB?: boolean;
  shareB?: boolean;
}

interface Extra {
  bias?: 'n' | 'm';
  activation?: Activation;
  alpha?: number;
  splits?: number;
  /** Use the tiles chosen for a discrete GPU (64 lanes), so CI covers that path on lavapipe too. */
  gpuTiles?: boolean;
}

async function check(c: Case, extra: Extra = {}) {
  const gpu = await getGpu();
  const { m, n, k, batch = 1, transA = false, transB = false, shareB = false } = c;
  const batched = batch > 1 || c.batch !== undefined;
  const aShape = transA ? [k, m] : [m, k];
  const bShape = transB ? [n, k] : [k, n];
  const a = values(batch * m * k, m + 7 * n + 13 * k);
  const b = values((shareB ? 1 : batch) * k * n, 3 * m + n + k);
  const biasLen = extra.bias === 'm' ? m : n;
  const bias = values(biasLen, 99);
  const alpha = extra.alpha ?? 1;
  const chosen = chooseGemmTiles({ m, n, k, batch }, gpu.adapter.isCpu && !extra.gpuTiles);
  const tiles = extra.splits
    ? { ...chosen, splits: extra.splits, kPerSplit: Math.ceil(k / extra.splits / 4) * 4 }
    : extra.gpuTiles
      ? chosen
      : undefined;
  if (tiles) tiles.splits = Math.ceil(k / tiles.kPerSplit);
  const out = await gpu.scope(async () => {
    const ta = gpu.tensor(a, batched ? [batch, ...aShape] : aShape);
    const tb = gpu.tensor(b, batched && !shareB ? [batch, ...bShape] : bShape);
    const tbias = extra.bias ? gpu.tensor(bias, [biasLen]) : undefined;
    const tc = gemm(gpu, ta, tb, {
      transA,
      transB,
      alpha,
      bias: tbias,
      biasAxis: extra.bias,
      activation: extra.activation,
      tiles,
    });
    expect(tc.shape).toEqual(batched ? [batch, m, n] : [m, n]);
    return gpu.readF32(tc);
  });
  const ref = gemmRef(a, b, { m, n, k, batch, transA, transB, strideB: shareB ? 0 : k * n });
  const f = act[extra.activation ?? 'none'];
  const want = ref.c.map((v, i) => {
    const col = i % n;
    const row = Math.floor(i / n) % m;
    return f(alpha * v + (extra.bias ? bias[extra.bias === 'm' ? row : col] : 0));
  });
  const scale = ref.mag.map((v) => Math.abs(alpha) * v + 1);
  expect(worstRatio(out, want, scale, REL, ABS)).toBeLessThanOrEqual(1);
}

describe('gemm', () => {
  it.each([
    [1, 1, 1],
    [1, 64, 37],
    [64, 1, 64],
    [7, 5, 3],
    [33, 65, 17],
    [8, 32, 4],
    [64, 64, 64],
    [129, 67, 131],
    [100, 128, 256],
  ])('%i x %i x %i matches the CPU', async (m, n, k) => {
    await check({ m, n, k });
  });

  it.each([
    [false, true],
    [true, false],
    [true, true],
  ])('transA=%s transB=%s on awkward shapes', async (transA, transB) => {
    await check({ m: 37, n: 19, k: 45, transA, transB });
    await check({ m: 16, n: 32, k: 64, transA, transB });
  });

  it('batched, and with a 2-D B shared by every batch entry', async () => {
    await check({ m: 9, n: 13, k: 21, batch: 3 });
    await check({ m: 12, n: 8, k: 16, batch: 4, shareB: true });
    await check({ m: 5, n: 6, k: 7, batch: 2, transA: true, transB: true });
  });

  it.each(['relu', 'silu', 'gelu'] as const)('fused bias + %s epilogue', async (activation) => {
    await check({ m: 23, n: 41, k: 29 }, { bias: 'n', activation, alpha: 0.5 });
    await check({ m: 16, n: 12, k: 8 }, { bias: 'm', activation });
  });

  it('split-K folds slices in order, with the epilogue after the fold', async () => {
    await check({ m: 16, n: 16, k: 1000 }, { splits: 4 });
    await check({ m: 7, n: 9, k: 999 }, { splits: 3, bias: 'n', activation: 'relu', alpha: 2 });
    await check({ m: 6, n: 10, k: 130, batch: 2 }, { splits: 2, bias: 'm' });
  });

  it('K-heavy skinny shapes take the automatic split-K path', async () => {
    const gpu = await getGpu();
    expect(chooseGemmTiles({ m: 32, n: 32, k: 4096, batch: 1 }, gpu.adapter.isCpu).splits).toBeGreaterThan(1);
    await check({ m: 32, n: 32, k: 4096 });
  });

  it('the tiles chosen for discrete GPUs compute the same products', async () => {
    await check({ m: 129, n: 300, k: 67 }, { gpuTiles: true });
    await check(
      { m: 3, n: 70, k: 20, transA: true, transB: true },
      { gpuTiles: true, bias: 'n', activation: 'gelu' },
    );
    await check({ m: 64, n: 64, k: 3000 }, { gpuTiles: true });
  });

  it('is deterministic: the same inputs give bit-identical outputs', async () => {
    const gpu = await getGpu();
    const a = gpu.tensor(values(40 * 700, 1), [40, 700]);
    const b = gpu.tensor(values(700 * 24, 2), [700, 24]);
    const first = await gpu.readF32(gemm(gpu, a, b));
    const second = await gpu.readF32(gemm(gpu, a, b));
    expect(Buffer.from(second.buffer).equals(Buffer.from(first.buffer))).toBe(true);
  });

  it('f16 storage with f32 accumulation', async (ctx) => {
    const gpu = await getGpu();
    needFeature(ctx, 'shader-f16', gpu.hasF16, 'f16 storage needs the adapter feature');
    const [m, n, k] = [19, 36, 52];
    const a = values(m * k, 5);
    const b = values(k * n, 6);
    const c = await gpu.readF32(
      gemm(gpu, gpu.tensor(a, [m, k], 'f16'), gpu.tensor(b, [k, n], 'f16'), { outDType: 'f32' }),
    );
    const ref = gemmRef(a, b, { m, n, k });
    // Inputs rounded to f16 (2^-11 relative each); the f32 sum adds little on top.
    expect(worstRatio(c, ref.c, ref.mag, 2e-3, 1e-4)).toBeLessThanOrEqual(1);
    const h = await gpu.read(gemm(gpu, gpu.tensor(a, [m, k], 'f16'), gpu.tensor(b, [k, n], 'f16')));
    expect(worstRatio(h, ref.c, ref.mag, 3e-3, 1e-3)).toBeLessThanOrEqual(1);
  });

  it('rejects mismatched shapes, naming both', async () => {
    const gpu = await getGpu();
    const a = gpu.zeros([3, 4]);
    const b = gpu.zeros([5, 6]);
    expect(() => gemm(gpu, a, b)).toThrow(/inner dimensions differ: A \[3, 4\] x B \[5, 6\]/);
    expect(() => gemm(gpu, a, gpu.zeros([4, 2]), { bias: gpu.zeros([3]) })).toThrow(
      /bias must be f32 with 2 values/,
    );
  });
});
