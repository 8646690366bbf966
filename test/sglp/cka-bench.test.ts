// Timing of one CKA batch at the default protocol's size on ResNet-56 / 28x28 inputs, and its accuracy
// against f64 at that size. Skipped unless SGLP_CKA_BENCH=1 (tests never assert timings):
//   SGLP_CKA_BENCH=1 npx vitest run test/sglp/cka-bench.test.ts
import { loadavg } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/gpu/tensor.js';
import { centreColumns, centreGram } from '../../src/ops/centre.js';
import { gemm } from '../../src/ops/gemm.js';
import { CkaAccumulator } from '../../src/sglp/cka.js';
import { featureGram } from '../../src/sglp/gram.js';
import { useGpu } from '../helpers/gpu.js';
import { values } from '../helpers/reference.js';

const getGpu = useGpu();
const enabled = process.env.SGLP_CKA_BENCH === '1';

/** ResNet-56 on 28x28 inputs: stem + stage 1 (16x28x28), stage 2 (32x14x14), stage 3 (64x7x7). */
const WIDTHS = [...Array(10).fill(12544), ...Array(9).fill(6272), ...Array(9).fill(3136)];
const N = 500;

/** Post-ReLU-like features: a shared low-rank signal plus noise, shifted positive and clipped. */
function features(n: number, p: number, seed: number, noiseScale = 0.5): Float32Array {
  const src = values(n * 4, 1);
  const proj = values(4 * p, seed);
  const noise = values(n * p, seed + 1, noiseScale);
  const x = new Float32Array(n * p);
  for (let i = 0; i < n; i++)
    for (let c = 0; c < p; c++) {
      let s = noise[i * p + c] + 0.3;
      for (let t = 0; t < 4; t++) s += src[i * 4 + t] * proj[t * p + c];
      x[i * p + c] = Math.max(0, s);
    }
  return x;
}

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
    // f64 reference: centred features, Grams, then HSIC from the centred Grams (HKH, or U-centring, whose
    // equality with Song et al.'s formula test/sglp/cka.test.ts checks on small shapes).
    const grams = feats.map((x, u) => {
      const p = widths[u];
      const xc = new Float64Array(N * p);
      for (let c = 0; c < p; c++) {
        let m = 0;
        for (let i = 0; i < N; i++) m += x[i * p + c];
        m /= N;
        for (let i = 0; i < N; i++) xc[i * p + c] = x[i * p + c] - m;
      }
      const k = new Float64Array(N * N);
      for (let i = 0; i < N; i++)
        for (let j = i; j < N; j++) {
          let s = 0;
          for (let c = 0; c < p; c++) s += xc[i * p + c] * xc[j * p + c];
          k[i * N + j] = s;
          k[j * N + i] = s;
        }
      return k;
    });
    for (const est of ['biased', 'unbiased'] as const) {
      const centred = grams.map((k) => {
        const kt = est === 'unbiased' ? k.map((v, e) => (e % (N + 1) === 0 ? 0 : v)) : k;
        const r = new Float64Array(N);
        for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) r[i] += kt[i * N + j];
        const t = r.reduce((a, b) => a + b, 0);
        const [dr, dt] = est === 'unbiased' ? [N - 2, (N - 1) * (N - 2)] : [N, N * N];
        return kt.map((v, e) => {
          const i = Math.floor(e / N);
          const j = e % N;
          return est === 'unbiased' && i === j ? 0 : v - r[i] / dr - r[j] / dr + t / dt;
        });
      });
      const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, e) => s + v * b[e], 0);
      const h = centred.map((a) => centred.map((b) => dot(a, b)));
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
          const ref = i === j ? 1 : h[i][j] / Math.sqrt(h[i][i] * h[j][j]);
          worst = Math.max(worst, Math.abs(got[i][j] - ref));
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
