// The workgroup-memory flash attention kernels (shaders/flash-attention*.wgsl), what discrete GPUs run,
// checked on whatever adapter the tests have (lavapipe in CI): forward against the f64 CPU reference,
// backward against central finite differences, on shapes that do not divide the tiles, T = 1, head dims
// that are not multiples of 4, GQA and both layouts. Small tiles make short sequences span many blocks.
import { describe, expect, it } from 'vitest';
import { type AttentionLayout, attention, attentionBackward } from '../../../src/ops/llm/attention.js';
import {
  type FlashTiles,
  flashFor,
  flashTilesProblem,
  flashWorkgroupBytes,
} from '../../../src/ops/llm/flash-attention.js';
import { flashAttention as tun } from '../../../src/tunables.js';
import { useGpu } from '../../helpers/gpu.js';
import { dot, numericGrad, pick, sampleIndices, worstVsMax } from '../../helpers/grad-check.js';
import { type AttnShape, attentionRef } from '../../helpers/llm-reference.js';
import { values } from '../../helpers/reference.js';

const getGpu = useGpu();
// The plain kernels' tolerances (test/ops/llm/attention.test.ts): f32 dot products and online softmax;
// gradients against f64 central differences (eps 1e-4).
const REL = 5e-6;
const GRAD_REL = 5e-5;
const GRAD_ABS = 1e-6;
const EPS_FD = 1e-4;

/** 32 invocations: 16 query rows x 32 keys forward, 16 keys x 32 rows in dk / dv. */
const TINY: FlashTiles = {
  wg: 32,
  forward: { bq: 16, bk: 32 },
  dq: { bq: 16, bk: 32 },
  dkdv: { bkv: 16, bq: 32 },
  ct: 8,
};
/** 64 invocations with different block shapes per kernel (dq 16 x 64, dk / dv 32 x 32). */
const MIXED: FlashTiles = {
  wg: 64,
  forward: { bq: 32, bk: 32 },
  dq: { bq: 16, bk: 64 },
  dkdv: { bkv: 32, bq: 32 },
  ct: 16,
};

interface Case extends AttnShape {
  layout: AttentionLayout;
}

async function check(c: Case, tiles: FlashTiles | undefined, gradSamples = 120) {
  const gpu = await getGpu();
  const { B, Hq, Hkv, T, D, layout, causal = true } = c;
  const qn = B * Hq * T * D;
  const kn = B * Hkv * T * D;
  const qShape = layout === 'bhtd' ? [B, Hq, T, D] : [B, T, Hq, D];
  const kShape = layout === 'bhtd' ? [B, Hkv, T, D] : [B, T, Hkv, D];
  const q = values(qn, qn + T, 1.5);
  const k = values(kn, kn + 2 * T, 1.5);
  const v = values(kn, kn + 3 * T);
  const r = values(qn, qn + 5);
  const opts = { layout, causal, variant: 'flash' as const, flashTiles: tiles };
  const got = await gpu.scope(async () => {
    const tq = gpu.tensor(q, qShape);
    const tk = gpu.tensor(k, kShape);
    const tv = gpu.tensor(v, kShape);
    const { out, lse } = attention(gpu, tq, tk, tv, opts);
    const g = attentionBackward(gpu, gpu.tensor(r, qShape), tq, tk, tv, out, lse, opts);
    const g2 = attentionBackward(gpu, gpu.tensor(r, qShape), tq, tk, tv, out, lse, opts);
    return {
      out: await gpu.readF32(out),
      lse: await gpu.readF32(lse),
      dq: await gpu.readF32(g.dq),
      dk: await gpu.readF32(g.dk),
      dv: await gpu.readF32(g.dv),
      dk2: await gpu.readF32(g2.dk),
      dv2: await gpu.readF32(g2.dv),
      dq2: await gpu.readF32(g2.dq),
    };
  });
  const ref = attentionRef(q, k, v, c, layout);
  expect(worstVsMax(got.out, ref.out, REL), 'out').toBeLessThanOrEqual(1);
  expect(worstVsMax(got.lse, ref.lse, REL, 1e-6), 'lse').toBeLessThanOrEqual(1);
  const loss = (qq: ArrayLike<number>, kk: ArrayLike<number>, vv: ArrayLike<number>) =>
    dot(attentionRef(qq, kk, vv, c, layout).out, r);
  const qi = sampleIndices(qn, gradSamples);
  const ki = sampleIndices(kn, gradSamples);
  const fdq = numericGrad(q, (x) => loss(x, k, v), EPS_FD, qi);
  const fdk = numericGrad(k, (x) => loss(q, x, v), EPS_FD, ki);
  const fdv = numericGrad(v, (x) => loss(q, k, x), EPS_FD, ki);
  expect(worstVsMax(pick(got.dq, qi), fdq, GRAD_REL, GRAD_ABS), 'dq').toBeLessThanOrEqual(1);
  expect(worstVsMax(pick(got.dk, ki), fdk, GRAD_REL, GRAD_ABS), 'dk').toBeLessThanOrEqual(1);
  expect(worstVsMax(pick(got.dv, ki), fdv, GRAD_REL, GRAD_ABS), 'dv').toBeLessThanOrEqual(1);
  // Deterministic: a second backward is bit-identical.
  expect(got.dq2).toEqual(got.dq);
  expect(got.dk2).toEqual(got.dk);
  expect(got.dv2).toEqual(got.dv);
}

describe('flash attention (discrete-GPU kernels)', () => {
  it.each<[Case, FlashTiles]>([
    [{ B: 1, Hq: 3, Hkv: 1, T: 7, D: 6, layout: 'bhtd' }, TINY],
    [{ B: 2, Hq: 4, Hkv: 2, T: 1, D: 6, layout: 'bthd' }, TINY],
    [{ B: 1, Hq: 2, Hkv: 2, T: 40, D: 8, layout: 'bhtd' }, TINY],
    [{ B: 1, Hq: 2, Hkv: 2, T: 40, D: 8, layout: 'bhtd', causal: false }, MIXED],
    [{ B: 2, Hq: 3, Hkv: 3, T: 13, D: 10, layout: 'bthd', causal: false }, TINY],
    [{ B: 1, Hq: 4, Hkv: 1, T: 67, D: 64, layout: 'bthd' }, MIXED],
    [{ B: 1, Hq: 2, Hkv: 1, T: 33, D: 5, layout: 'bhtd' }, TINY],
    [{ B: 1, Hq: 6, Hkv: 2, T: 50, D: 36, layout: 'bthd' }, MIXED],
  ])('%j on small tiles %#', async (c, tiles) => {
    await check(c, tiles, c.D * c.T > 1000 ? 40 : 120);
  });

  it.each<Case>([
    { B: 1, Hq: 2, Hkv: 1, T: 70, D: 64, layout: 'bthd' },
    { B: 1, Hq: 2, Hkv: 2, T: 9, D: 128, layout: 'bhtd', causal: false },
  ])('%j on the production tiles', async (c) => {
    await check(c, undefined, 30);
  });
});

describe('flash attention choice (pure)', () => {
  it('runs on GPUs where the tiles fit, never on CPU adapters unless forced', () => {
    expect(flashFor('t', 'auto', false, 32768, 128, {})).toBe(tun);
    expect(flashFor('t', 'auto', true, 32768, 128, {})).toBeUndefined();
    expect(flashFor('t', 'gpu', true, 32768, 64, {})).toBe(tun);
    expect(flashFor('t', 'auto', false, 32768, 64, { variant: 'plain' })).toBeUndefined();
    // Head dim 256 does not fit 32 KiB with these tiles: auto keeps the plain kernels, forcing is an error.
    expect(flashWorkgroupBytes(tun, 256)).toBeGreaterThan(32768);
    expect(flashFor('t', 'auto', false, 32768, 256, {})).toBeUndefined();
    expect(() => flashFor('t', 'auto', false, 32768, 256, { variant: 'flash' })).toThrow(
      /head dim 256 needs \d+ bytes of workgroup memory; the adapter has 32768/,
    );
  });

  it('the tunables and the test tiles satisfy the shaders, and bad tiles are named', () => {
    for (const t of [tun, TINY, MIXED]) expect(flashTilesProblem(t)).toBeUndefined();
    expect(flashWorkgroupBytes(tun, 128)).toBeLessThanOrEqual(32768);
    expect(flashTilesProblem({ ...TINY, forward: { bq: 16, bk: 16 } })).toMatch(/4 x 4 per invocation/);
    expect(flashTilesProblem({ ...TINY, ct: 3 })).toMatch(/must divide wg/);
  });
});
