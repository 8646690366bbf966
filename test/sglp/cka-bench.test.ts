// Timing of one CKA batch at the default protocol's size on ResNet-56 / 28x28 inputs, and its accuracy
// against f64 at that size. Skipped unless SGLP_CKA_BENCH=1 (tests never assert timings):
//   SGLP_CKA_BENCH=1 npx vitest run test/sglp/cka-bench.test.ts
import { loadavg } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/gpu/tensor.js';
import { gemm } from '../../src/ops/linalg/gemm.js';
import { centreColumns, centreGram } from '../../src/ops/norm/centre.js';
import { CkaAccumulator } from '../../src/sglp/cka.js';
import { featureGram } from '../../src/sglp/gram.js';
import { ckaFromGrams, ckaFeatures as features, gram64 } from '../helpers/cka-reference.js';
import { useGpu } from '../helpers/gpu.js';

const getGpu = useGpu();
const enabled = process.env.SGLP_CKA_BENCH === '1';

/** ResNet-56 on 28x28 inputs: stem + stage 1 (16x28x28), stage 2 (32x14x14), stage 3 (64x7x7). */
const WIDTHS = [...Array(10).fill(12544), ...Array(9).fill(6272), ...Array(9).fill(3136)];
const N = 500;

describe.skipIf(!enabled)('CKA batch benchmark (ResNet-56, 28x28, n = 500, L = 28)', () => {
  it('times one batch', async () => {
    const gpu = await getGpu();
    // One distinct tensor per unit would be 420 MB; units of one width share a tensor (timing only).
    const byWidth = new Map<number, Tensor>();
    for (const p of new Set(WIDTHS)) byWidth.set(p, gpu.tensor(features(N, p, p), [N, p]));
    const units = WIDTHS.map((_, i) => `unit${i}`);
    const acc = new CkaAccumulator(gpu, { units });
    const batch = async () => {
      acc.beginBatch(N);
      WIDTHS.forEach((p, i) => {
        acc.addUnit(i, byWidth.get(p) as Tensor);
      });
      return acc.endBatch();
    };
    await batch(); // compiles the pipelines
    // Wall time, and CPU time of this process (lavapipe's threads included): on a shared machine the wall
    // time grows with other load, CPU time / cores much less.
    const times: number[] = [];
    const cpu: number[] = [];
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      await batch();
      times.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
    }
    // Breakdown, each timed alone (sync before and after): one unit's feature Gram per width, with the
    // symmetric kernel and with the GEMM (its peer); the stacked-Gram product and readback.
    const timeIt = async (fn: () => Tensor | undefined) => {
      let best = Number.POSITIVE_INFINITY;
      for (let r = 0; r < 3; r++) {
        await gpu.sync();
        const t0 = performance.now();
        const t = fn();
        await gpu.sync();
        best = Math.min(best, performance.now() - t0);
        t?.dispose();
      }
      return best;
    };
    const parts: string[] = [];
    for (const [p, x] of byWidth) {
      const syrk = await timeIt(() => featureGram(gpu, x, 'syrk'));
      const viaGemm = await timeIt(() => featureGram(gpu, x, 'gemm'));
      const centre = await timeIt(() => centreColumns(gpu, x));
      parts.push(
        `p=${p}: Gram ${syrk.toFixed(0)} ms (GEMM ${viaGemm.toFixed(0)} ms), column centring ${centre.toFixed(0)} ms`,
      );
    }
    const g = gpu.zeros([WIDTHS.length, N * N]);
    const product = await timeIt(() => gemm(gpu, g, g, { transB: true }));
    const k = featureGram(gpu, byWidth.get(3136) as Tensor);
    const centring = await timeIt(() => {
      centreGram(gpu, k, { out: g, offset: 0 });
      return undefined;
    });
    k.dispose();
    g.dispose();
    console.log(
      `[cka-bench] ${gpu.adapter.description}: one batch (L = ${WIDTHS.length}, n = ${N}) ` +
        `${times.map((t) => t.toFixed(0)).join(', ')} ms wall, ${cpu.map((t) => t.toFixed(0)).join(', ')} ms CPU (3 runs; load average ${loadavg()[0].toFixed(1)}); per unit ${parts.join('; ')}; ` +
        `Gram centring ${centring.toFixed(1)} ms; all-pairs GEMM [${WIDTHS.length}, ${N * N}] x its transpose ${product.toFixed(0)} ms`,
    );
    acc.dispose();
    expect(times.length).toBe(3);
  });

  it('matches f64 at that size (one unit per width, both estimators)', async () => {
    const gpu = await getGpu();
    const widths = [12544, 6272, 3136];
    const feats = widths.map((p, u) => features(N, p, 1000 + u, [1, 3, 8][u]));
    // f64 reference (test/helpers/cka-reference.ts).
    const grams = feats.map((x, u) => gram64(x, N, widths[u]));
    for (const est of ['biased', 'unbiased'] as const) {
      const ref = ckaFromGrams(grams, N, est);
      const acc = new CkaAccumulator(gpu, { units: ['a', 'b', 'c'], estimator: est });
      acc.beginBatch(N);
      feats.forEach((x, u) => {
        const t = gpu.tensor(x, [N, widths[u]]);
        acc.addUnit(u, t);
        t.dispose();
      });
      await acc.endBatch();
      const got = acc.result().matrix;
      let worst = 0;
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 3; j++) {
          worst = Math.max(worst, Math.abs(got[i][j] - ref[i][j]));
        }
      console.log(
        `[cka-bench] n = ${N}, p = ${widths.join('/')}, ${est}: CKA ${JSON.stringify(
          got[0]
            .slice(1)
            .concat(got[1][2])
            .map((v) => +v.toFixed(4)),
        )}, max |GPU - f64| = ${worst.toExponential(2)}`,
      );
      expect(worst).toBeLessThan(1e-4);
      acc.dispose();
    }
  });
});
