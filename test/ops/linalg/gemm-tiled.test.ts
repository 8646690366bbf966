// The workgroup-memory tiled GEMM (shaders/gemm-tiled.wgsl), the kernel discrete GPUs get, run here on
// whatever adapter the tests have (lavapipe in CI) against the f64 CPU reference. Small tiles (16 x 16 per
// workgroup) make modest shapes cover many partial tiles; the production tiles run on a few shapes too.
import { describe, expect, it } from 'vitest';
import { decodeF16, encodeF16 } from '../../../src/num/half.js';
import type { Activation } from '../../../src/ops/elementwise/activation.js';
import { gemm } from '../../../src/ops/linalg/gemm.js';
import {
  chooseTiledGemm,
  type TiledGemmTiles,
  tiledGemmFits,
  tiledGemmFor,
} from '../../../src/ops/linalg/gemm-tiled.js';
import { gemmTiled as tun } from '../../../src/tunables.js';
import { needFeature, useGpu } from '../../helpers/gpu.js';
import { act, gemmRef, values, worstRatio } from '../../helpers/reference.js';

const getGpu = useGpu();
// f32 accumulation over K terms, as the plain kernel's test.
const REL = 2e-6;
const ABS = 1e-6;

/** 4 x 4 invocations of 4 x 4 outputs: 16 x 16 tiles, K staged 8 at a time. */
const SMALL: TiledGemmTiles = { wgx: 4, wgy: 4, tm: 4, tn: 4, bk: 8, splits: 1, kPerSplit: 0 };
/** Non-square register block and K step 4. */
const SKEW: TiledGemmTiles = { wgx: 2, wgy: 8, tm: 4, tn: 8, bk: 4, splits: 1, kPerSplit: 0 };

interface Case {
  m: number;
  n: number;
  k: number;
  batch?: number;
  transA?: boolean;
  transB?: boolean;
  shareB?: boolean;
  bias?: 'n' | 'm';
  activation?: Activation;
  alpha?: number;
  /** Tiles (kPerSplit is filled in from splits); default: the tiled kernel's own choice. */
  tiles?: TiledGemmTiles;
  splits?: number;
  half?: 'a' | 'b' | 'both';
}

const roundF16 = (a: Float32Array): Float32Array => decodeF16(encodeF16(a));

async function check(c: Case) {
  const gpu = await getGpu();
  const { m, n, k, batch = 1, transA = false, transB = false, shareB = false, alpha = 1 } = c;
  const batched = c.batch !== undefined;
  const aShape = transA ? [k, m] : [m, k];
  const bShape = transB ? [n, k] : [k, n];
  const halfA = c.half === 'a' || c.half === 'both';
  const halfB = c.half === 'b' || c.half === 'both';
  const a = values(batch * m * k, m + 7 * n + 13 * k);
  const b = values((shareB ? 1 : batch) * k * n, 3 * m + n + k);
  const biasLen = c.bias === 'm' ? m : n;
  const bias = values(biasLen, 99);
  let tiledTiles: TiledGemmTiles | undefined;
  if (c.tiles) {
    const splits = c.splits ?? 1;
    const kPerSplit = Math.ceil(k / splits / 4) * 4;
    tiledTiles = { ...c.tiles, splits: Math.ceil(k / kPerSplit), kPerSplit };
  }
  const out = await gpu.scope(async () => {
    const ta = gpu.tensor(a, batched ? [batch, ...aShape] : aShape, halfA ? 'f16' : 'f32');
    const tb = gpu.tensor(b, batched && !shareB ? [batch, ...bShape] : bShape, halfB ? 'f16' : 'f32');
    const tc = gemm(gpu, ta, tb, {
      transA,
      transB,
      alpha,
      bias: c.bias ? gpu.tensor(bias, [biasLen]) : undefined,
      biasAxis: c.bias,
      activation: c.activation,
      outDType: 'f32',
      variant: 'tiled',
      tiledTiles,
    });
    expect(tc.shape).toEqual(batched ? [batch, m, n] : [m, n]);
    return gpu.readF32(tc);
  });
  const ref = gemmRef(halfA ? roundF16(a) : a, halfB ? roundF16(b) : b, {
    ...{ m, n, k, batch, transA, transB },
    strideB: shareB ? 0 : k * n,
  });
  const f = act[c.activation ?? 'none'];
  const want = ref.c.map((v, i) => {
    const col = i % n;
    const row = Math.floor(i / n) % m;
    return f(alpha * v + (c.bias ? bias[c.bias === 'm' ? row : col] : 0));
  });
  const scale = ref.mag.map((v) => Math.abs(alpha) * v + 1);
  expect(worstRatio(out, want, scale, REL, ABS)).toBeLessThanOrEqual(1);
}

describe('tiled gemm (discrete-GPU kernel)', () => {
  it.each([
    [1, 1, 1],
    [7, 5, 3],
    [16, 16, 16],
    [33, 65, 17],
    [40, 36, 44],
    [129, 67, 131],
  ])('%i x %i x %i on 16 x 16 tiles matches the CPU', async (m, n, k) => {
    await check({ m, n, k, tiles: SMALL });
  });

  it.each([
    [false, true],
    [true, false],
    [true, true],
  ])('transA=%s transB=%s: vec4 and scalar loads on every operand layout', async (transA, transB) => {
    await check({ m: 37, n: 19, k: 45, transA, transB, tiles: SMALL });
    await check({ m: 36, n: 20, k: 44, transA, transB, tiles: SMALL });
    await check({ m: 17, n: 35, k: 23, transA, transB, tiles: SKEW });
  });

  it('batched, with a shared 2-D B, and fused bias + activation epilogues', async () => {
    await check({ m: 9, n: 13, k: 21, batch: 3, tiles: SMALL });
    await check({ m: 12, n: 8, k: 16, batch: 4, shareB: true, tiles: SKEW });
    await check({ m: 23, n: 41, k: 29, bias: 'n', activation: 'gelu', alpha: 0.5, tiles: SMALL });
    await check({ m: 20, n: 12, k: 8, bias: 'm', activation: 'silu', transB: true, tiles: SMALL });
  });

  it('split-K slices fold in order, with the epilogue after the fold', async () => {
    await check({ m: 17, n: 18, k: 999, splits: 3, bias: 'n', activation: 'relu', alpha: 2, tiles: SMALL });
    await check({ m: 6, n: 10, k: 130, batch: 2, splits: 2, bias: 'm', transA: true, tiles: SKEW });
  });

  it('the production tiles (chosen by shape) compute the same products', async () => {
    // 64 x 64 tiles with 4 x 4 per invocation; 128 x 128 with 8 x 8; split K for a K-heavy shape.
    expect(chooseTiledGemm({ m: 130, n: 70, k: 50, batch: 1 }).tm).toBe(tun.small.tm);
    await check({ m: 130, n: 70, k: 50, transB: true, bias: 'n' });
    await check({ m: 129, n: 130, k: 20, tiles: tun.large as TiledGemmTiles });
    expect(chooseTiledGemm({ m: 64, n: 64, k: 4096, batch: 1 }).splits).toBeGreaterThan(1);
    await check({ m: 64, n: 64, k: 4096 });
  });

  it('f16 operands are widened and accumulated in f32', async (ctx) => {
    const gpu = await getGpu();
    needFeature(ctx, 'shader-f16', gpu.hasF16, 'f16 operands need the adapter feature');
    await check({ m: 21, n: 37, k: 19, transB: true, half: 'b', tiles: SMALL });
    await check({ m: 24, n: 36, k: 40, transB: true, half: 'b', bias: 'n', tiles: SMALL });
    await check({ m: 13, n: 19, k: 37, half: 'a', tiles: SKEW });
    await check({ m: 16, n: 32, k: 64, half: 'both', tiles: SMALL });
  });

  it('f16 output rounds the f32 result once', async (ctx) => {
    const gpu = await getGpu();
    needFeature(ctx, 'shader-f16', gpu.hasF16, 'f16 output needs the adapter feature');
    const [m, n, k] = [19, 36, 52];
    const a = values(m * k, 5);
    const b = values(k * n, 6);
    const ta = gpu.tensor(a, [m, k], 'f16');
    const tb = gpu.tensor(b, [k, n], 'f16');
    const h = gemm(gpu, ta, tb, { variant: 'tiled' });
    expect(h.dtype).toBe('f16');
    const ref = gemmRef(roundF16(a), roundF16(b), { m, n, k });
    expect(worstRatio(await gpu.read(h), ref.c, ref.mag, 1e-3, 1e-3)).toBeLessThanOrEqual(1);
    for (const t of [ta, tb, h]) t.dispose();
  });

  it('is deterministic', async () => {
    const gpu = await getGpu();
    const a = gpu.tensor(values(40 * 300, 1), [40, 300]);
    const b = gpu.tensor(values(300 * 36, 2), [300, 36]);
    const first = await gpu.readF32(
      gemm(gpu, a, b, { variant: 'tiled', tiledTiles: { ...SMALL, kPerSplit: 300 } }),
    );
    const second = await gpu.readF32(
      gemm(gpu, a, b, { variant: 'tiled', tiledTiles: { ...SMALL, kPerSplit: 300 } }),
    );
    expect(Buffer.from(second.buffer).equals(Buffer.from(first.buffer))).toBe(true);
  });
});

describe('tiled gemm choice (pure)', () => {
  const big = { m: 1024, n: 1024, k: 1024, batch: 1 };
  it('runs on GPUs for shapes that fill a tile, never on CPU adapters unless forced', () => {
    expect(tiledGemmFor('auto', false, big, {})).toBeDefined();
    expect(tiledGemmFor('auto', true, big, {})).toBeUndefined();
    expect(tiledGemmFor('gpu', true, big, {})).toBeDefined();
    expect(tiledGemmFor('auto', false, big, { variant: 'plain' })).toBeUndefined();
    expect(tiledGemmFor('plain', false, big, {})).toBeUndefined();
    expect(tiledGemmFor('plain', true, big, { variant: 'tiled' })).toBeDefined();
    // Decode-like M: the plain kernel's skinny tiles.
    expect(tiledGemmFits({ m: 4, n: 4096, k: 4096, batch: 1 })).toBe(false);
    expect(tiledGemmFor('gpu', false, { m: 4, n: 4096, k: 4096, batch: 1 }, {})).toBeUndefined();
  });

  it('takes large tiles when there are enough of them, and K slices cover K', () => {
    const t = chooseTiledGemm({ m: 4096, n: 4096, k: 512, batch: 1 });
    expect([t.wgy * t.tm, t.wgx * t.tn, t.splits]).toEqual([128, 128, 1]);
    const s = chooseTiledGemm({ m: 64, n: 64, k: 16384, batch: 1 });
    expect(s.kPerSplit % 4).toBe(0);
    expect(s.splits * s.kPerSplit).toBeGreaterThanOrEqual(16384);
    expect((s.splits - 1) * s.kPerSplit).toBeLessThan(16384);
  });
});
