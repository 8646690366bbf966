// The attention kernels' test, shared by both families (test/ops/llm/attention.test.ts: the lavapipe-tuned
// kernels; flash-attention.test.ts: the workgroup-memory ones): forward against the f64 CPU reference,
// backward against central finite differences, a second backward bit-identical.

import { expect } from 'vitest';
import type { Gpu } from '../../src/gpu/device.js';
import {
  type AttentionLayout,
  type AttentionOptions,
  attention,
  attentionBackward,
} from '../../src/ops/llm/attention.js';
import { dot, numericGrad, pick, sampleIndices, worstVsMax } from './grad-check.js';
import { type AttnShape, attentionRef } from './llm-reference.js';
import { values } from './reference.js';

// Forward: f32 dot products of D terms and an f32 online softmax; outputs are averages of |v| <= 1.
const REL = 5e-6;
// Backward: f32 gradients against f64 central differences (eps 1e-4: truncation ~1e-8). With T = 1 dq and
// dk are exactly 0 (one key) and the f32 result is rounding noise of dP - delta: the absolute floor.
const GRAD_REL = 5e-5;
const GRAD_ABS = 1e-6;
const EPS_FD = 1e-4;

export interface AttentionCase extends AttnShape {
  layout: AttentionLayout;
}

/** Checks attention and its backward on case `c` with the kernel choice in `kernel`. */
export async function checkAttention(
  gpu: Gpu,
  c: AttentionCase,
  kernel: Omit<AttentionOptions, 'layout' | 'causal'>,
  gradSamples: number,
): Promise<void> {
  const { B, Hq, Hkv, T, D, layout, causal = true } = c;
  const qn = B * Hq * T * D;
  const kn = B * Hkv * T * D;
  const qShape = layout === 'bhtd' ? [B, Hq, T, D] : [B, T, Hq, D];
  const kShape = layout === 'bhtd' ? [B, Hkv, T, D] : [B, T, Hkv, D];
  const q = values(qn, qn + T, 1.5);
  const k = values(kn, kn + 2 * T, 1.5);
  const v = values(kn, kn + 3 * T);
  const r = values(qn, qn + 5);
  const opts = { layout, causal, ...kernel };
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
