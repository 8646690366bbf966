// Dispatches recorded into one compute pass (batching.sharedPass, what discrete GPUs get): each one must
// still see the writes of those before it, and copies or clears recorded between them must end the pass
// and land in order. Forced on here, whatever the adapter's default, so CI (lavapipe) covers that path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binary } from '../../src/ops/elementwise/elementwise.js';
import { gemm } from '../../src/ops/linalg/gemm.js';
import { batching } from '../../src/tunables.js';
import { useGpu } from '../helpers/gpu.js';
import { gemmRef, values, worstRatio } from '../helpers/reference.js';

const getGpu = useGpu();
const before = batching.sharedPass;
beforeAll(() => {
  batching.sharedPass = { cpu: true, gpu: true };
});
afterAll(() => {
  batching.sharedPass = before;
});

describe('one compute pass per batch of dispatches', () => {
  it('chains of dependent dispatches, with copies and clears between them, give the sequential result', async () => {
    const gpu = await getGpu();
    const n = 1000;
    const x = values(n, 1);
    const got = await gpu.scope(async () => {
      const a = gpu.tensor(x, [n]);
      let b = binary(gpu, 'add', a, a); // 2x
      for (let i = 0; i < 5; i++) b = binary(gpu, 'add', b, a); // 7x, each reading the previous write
      const c = gpu.empty([n]);
      gpu.copy(b, c); // ends the pass
      const d = binary(gpu, 'mul', c, a); // 7x^2, in a new pass
      const z = gpu.zeros([n]); // a clear between dispatches
      const e = binary(gpu, 'add', d, z);
      const f = binary(gpu, 'sub', e, c); // 7x^2 - 7x
      return gpu.readF32(f);
    });
    const want = Array.from(x, (v) => 7 * v * v - 7 * v);
    expect(worstRatio(got, want, 8, 1e-6, 1e-6)).toBeLessThanOrEqual(1);
  });

  it('more dispatches than one batch holds (submits mid-chain) and a GEMM on the result', async () => {
    const gpu = await getGpu();
    const [m, k] = [12, 20];
    const x = values(m * k, 2);
    const w = values(k * m, 3);
    const submits = gpu.counters.submits;
    const got = await gpu.scope(async () => {
      const a = gpu.tensor(x, [m, k]);
      const zero = gpu.zeros([m, k]);
      let acc = binary(gpu, 'add', a, zero);
      // 300 dependent dispatches: past batching.maxDispatches, so the chain spans several submits.
      for (let i = 0; i < 300; i++) acc = binary(gpu, 'add', acc, zero);
      return gpu.readF32(gemm(gpu, acc, gpu.tensor(w, [k, m])));
    });
    expect(gpu.counters.submits - submits).toBeGreaterThan(2);
    const ref = gemmRef(x, w, { m, n: m, k });
    expect(worstRatio(got, ref.c, ref.mag, 2e-6, 1e-6)).toBeLessThanOrEqual(1);
  });
});
