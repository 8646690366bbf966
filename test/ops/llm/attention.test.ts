import { describe, expect, it } from 'vitest';
import {
  type AttentionLayout,
  type AttentionTiles,
  attention,
  attentionBackward,
  attentionWorkgroupBytes,
  chooseAttentionTiles,
} from '../../../src/ops/llm/attention.js';
import { needFeature, useGpu } from '../../helpers/gpu.js';
import { dot, numericGrad, pick, sampleIndices, worstVsMax } from '../../helpers/grad-check.js';
import { type AttnShape, attentionRef } from '../../helpers/llm-reference.js';
import { values } from '../../helpers/reference.js';

const getGpu = useGpu();
// Forward: f32 dot products of D terms and an f32 online softmax; outputs are averages of |v| <= 1.
const REL = 5e-6;
// Backward: f32 gradients against f64 central differences (eps 1e-4: truncation ~1e-8). With T = 1 dq and
// dk are exactly 0 (one key) and the f32 result is rounding noise of dP - delta: the absolute floor.
const GRAD_REL = 5e-5;
const GRAD_ABS = 1e-6;
const EPS_FD = 1e-4;

interface Case extends AttnShape {
  layout: AttentionLayout;
}

/** Workgroup-memory tiles (no shuffles): the path adapters without a fixed subgroup size take. */
const sharedTiles = (lanes: number, rows = 2): AttentionTiles => ({
  lanes,
  rows,
  keyRows: rows,
  shuffle: false,
});

async function check(c: Case, tiles?: AttentionTiles, gradSamples = 150) {
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
  const opts = { layout, causal, tiles };
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
  expect(got.dk2).toEqual(got.dk);
  expect(got.dq2).toEqual(got.dq);
}

describe('attention (flash, GQA)', () => {
  it.each<Case>([
    { B: 1, Hq: 3, Hkv: 1, T: 7, D: 6, layout: 'bhtd' },
    { B: 2, Hq: 4, Hkv: 2, T: 1, D: 6, layout: 'bthd' },
    { B: 1, Hq: 2, Hkv: 2, T: 40, D: 8, layout: 'bhtd' },
    { B: 1, Hq: 2, Hkv: 2, T: 40, D: 8, layout: 'bhtd', causal: false },
    { B: 2, Hq: 3, Hkv: 3, T: 13, D: 10, layout: 'bthd', causal: false },
    { B: 1, Hq: 4, Hkv: 1, T: 67, D: 64, layout: 'bthd' },
    { B: 1, Hq: 2, Hkv: 1, T: 33, D: 5, layout: 'bhtd' },
  ])('%j with the adapter tiles', async (c) => {
    await check(c, undefined, c.D * c.T > 1000 ? 40 : 150);
  });

  it.for<[Case, AttentionTiles]>([
    [{ B: 1, Hq: 3, Hkv: 1, T: 7, D: 6, layout: 'bhtd' }, sharedTiles(4, 1)],
    [{ B: 2, Hq: 2, Hkv: 2, T: 20, D: 10, layout: 'bhtd', causal: false }, sharedTiles(4, 2)],
    [{ B: 1, Hq: 1, Hkv: 1, T: 37, D: 72, layout: 'bthd' }, sharedTiles(8, 1)],
    [
      { B: 1, Hq: 6, Hkv: 2, T: 29, D: 12, layout: 'bthd' },
      { lanes: 8, rows: 1, keyRows: 1, shuffle: true },
    ],
    [
      { B: 1, Hq: 2, Hkv: 1, T: 70, D: 40, layout: 'bhtd' },
      { lanes: 8, rows: 1, keyRows: 3, shuffle: true },
    ],
  ])('%j with tiles %j', async ([c, tiles], ctx) => {
    const gpu = await getGpu();
    if (tiles.shuffle) {
      needFeature(
        ctx,
        'subgroups-8',
        gpu.fixedSubgroupSize === tiles.lanes,
        `shuffle tiles need a fixed subgroup size of ${tiles.lanes} (adapter: ${gpu.fixedSubgroupSize || 'not fixed'})`,
      );
    }
    await check(c, tiles);
  });

  it('picks shuffle tiles for a fixed subgroup size, and exchange buffers that fit otherwise', () => {
    expect(chooseAttentionTiles(true, 8, 64, 32768)).toMatchObject({ lanes: 8, shuffle: true });
    expect(chooseAttentionTiles(false, 32, 128, 16384)).toMatchObject({ lanes: 32, shuffle: true });
    for (const [dim, bytes] of [
      [64, 16384],
      [128, 16384],
      [256, 16384],
      [64, 8192],
    ]) {
      const t = chooseAttentionTiles(false, 0, dim, bytes);
      expect(t.shuffle).toBe(false);
      expect(attentionWorkgroupBytes(t, dim)).toBeLessThanOrEqual(bytes);
    }
  });

  it('rejects query heads that are not a multiple of the kv heads', async () => {
    const gpu = await getGpu();
    await gpu.scope(() => {
      expect(() =>
        attention(gpu, gpu.zeros([1, 3, 4, 8]), gpu.zeros([1, 2, 4, 8]), gpu.zeros([1, 2, 4, 8])),
      ).toThrow(/multiple of kv heads/);
    });
  });
});
