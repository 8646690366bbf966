// Mixed-precision GEMM: one operand stored as f16 (the LLM weights under --precision f16), the other f32,
// accumulation in f32. The reference multiplies the f16-rounded values in f64, so what is left is only the
// f32 accumulation error: the same tight tolerance as the all-f32 GEMM. A kernel that read f16 data with the
// wrong stride, missed the widening or rounded the f32 operand would be off by far more.

import { describe, expect, it } from 'vitest';
import { decodeF16, encodeF16 } from '../../../src/num/half.js';
import { gemm } from '../../../src/ops/linalg/gemm.js';
import { chooseGemmTiles } from '../../../src/ops/linalg/gemm-config.js';
import { needFeature, useGpu } from '../../helpers/gpu.js';
import { gemmRef, values, worstRatio } from '../../helpers/reference.js';

const getGpu = useGpu();
const REL = 2e-6;
const ABS = 1e-6;

const roundF16 = (a: Float32Array): Float32Array => decodeF16(encodeF16(a));

interface Case {
  m: number;
  n: number;
  k: number;
  batch?: number;
  transB?: boolean;
  /** Which operand is f16 (default B). */
  half?: 'a' | 'b';
  splits?: number;
  gpuTiles?: boolean;
  bias?: boolean;
}

async function check(c: Case): Promise<void> {
  const gpu = await getGpu();
  const { m, n, k, batch = 1, transB = false, half = 'b' } = c;
  const a = values(batch * m * k, m + 3 * n + 5 * k);
  const b = values(k * n, 7 * m + n + k);
  const aUsed = half === 'a' ? roundF16(a) : a;
  const bUsed = half === 'b' ? roundF16(b) : b;
  const bias = values(n, 42);
  const chosen = chooseGemmTiles({ m, n, k, batch }, gpu.adapter.isCpu && !c.gpuTiles);
  let tiles = c.gpuTiles ? chosen : undefined;
  if (c.splits) {
    const kPerSplit = Math.ceil(k / c.splits / 4) * 4;
    tiles = { ...chosen, splits: Math.ceil(k / kPerSplit), kPerSplit };
  }
  const out = await gpu.scope(async () => {
    const ta = gpu.tensor(a, batch > 1 ? [batch, m, k] : [m, k], half === 'a' ? 'f16' : 'f32');
    const tb = gpu.tensor(b, transB ? [n, k] : [k, n], half === 'b' ? 'f16' : 'f32');
    const tc = gemm(gpu, ta, tb, {
      transB,
      outDType: 'f32',
      ...(c.bias ? { bias: gpu.tensor(bias, [n]) } : {}),
      ...(tiles ? { tiles } : {}),
    });
    expect(tc.dtype).toBe('f32');
    return gpu.readF32(tc);
  });
  const ref = gemmRef(aUsed, bUsed, { m, n, k, batch, transB, strideB: 0 });
  const want = ref.c.map((v, i) => v + (c.bias ? bias[i % n] : 0));
  expect(worstRatio(out, want, ref.mag, REL, ABS)).toBeLessThanOrEqual(1);
}

describe('gemm with an f16 operand (f32 accumulation)', () => {
  it.for<Case>([
    // x [tokens, in] · Wᵀ with W [out, in] f16: the linear forward.
    { m: 1, n: 1, k: 1, transB: true },
    { m: 13, n: 37, k: 19, transB: true },
    { m: 10, n: 96, k: 64, transB: true },
    { m: 70, n: 33, k: 130, transB: true, bias: true },
    // dy [tokens, out] · W [out, in] f16: the linear backward's dx.
    { m: 13, n: 19, k: 37 },
    { m: 10, n: 64, k: 96 },
    { m: 67, n: 130, k: 33 },
    // Batched A over a shared f16 B, split K, and the discrete-GPU tiles.
    { m: 9, n: 21, k: 300, batch: 3, transB: true },
    { m: 5, n: 40, k: 700, transB: true, splits: 4 },
    { m: 5, n: 41, k: 701, splits: 3 },
    { m: 33, n: 70, k: 45, transB: true, gpuTiles: true },
    { m: 33, n: 72, k: 45, gpuTiles: true },
    // f16 A with f32 B.
    { m: 11, n: 23, k: 29, half: 'a' },
    { m: 12, n: 24, k: 32, half: 'a', transB: true },
  ])('%o', async (c, ctx) => {
    const gpu = await getGpu();
    needFeature(ctx, 'shader-f16', gpu.hasF16, 'f16 operands need the adapter feature');
    await check(c);
  });

  it('names the operand of an unsupported dtype', async () => {
    const gpu = await getGpu();
    const a = gpu.zeros([2, 3]);
    const b = gpu.tensor([1, 2, 3, 4, 5, 6], [3, 2], 'u32');
    expect(() => gemm(gpu, a, b)).toThrow(/operand B must be f32 or f16, got u32/);
    a.dispose();
    b.dispose();
  });
});
