// Float64 linear CKA (SGLP.md §1) from features, written from the definition, and the synthetic post-ReLU
// features the CKA size tests use (test/sglp/cka-size.test.ts in CI, cka-bench.test.ts on demand).

import { values } from './reference.js';

/** Post-ReLU-like features [n, p]: a shared low-rank signal plus noise, shifted positive and clipped. */
export function ckaFeatures(n: number, p: number, seed: number, noiseScale = 0.5): Float32Array {
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

/** The Gram K = Xc Xcᵀ [n, n] of column-centred features, in f64. */
export function gram64(x: Float32Array, n: number, p: number): Float64Array {
  const xc = new Float64Array(n * p);
  for (let c = 0; c < p; c++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += x[i * p + c];
    m /= n;
    for (let i = 0; i < n; i++) xc[i * p + c] = x[i * p + c] - m;
  }
  const k = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let c = 0; c < p; c++) s += xc[i * p + c] * xc[j * p + c];
      k[i * n + j] = s;
      k[j * n + i] = s;
    }
  return k;
}

/**
 * CKA matrix from Grams: HSIC from the centred Grams (HKH, or U-centring with zero diagonals for the
 * unbiased estimator, whose equality with Song et al.'s formula test/sglp/cka.test.ts checks on small
 * shapes), diagonal exactly 1.
 */
export function ckaFromGrams(grams: Float64Array[], n: number, est: 'biased' | 'unbiased'): number[][] {
  const centred = grams.map((k) => {
    const kt = est === 'unbiased' ? k.map((v, e) => (e % (n + 1) === 0 ? 0 : v)) : k;
    const r = new Float64Array(n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) r[i] += kt[i * n + j];
    const t = r.reduce((a, b) => a + b, 0);
    const [dr, dt] = est === 'unbiased' ? [n - 2, (n - 1) * (n - 2)] : [n, n * n];
    return kt.map((v, e) => {
      const i = Math.floor(e / n);
      const j = e % n;
      return est === 'unbiased' && i === j ? 0 : v - r[i] / dr - r[j] / dr + t / dt;
    });
  });
  const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, e) => s + v * b[e], 0);
  const h = centred.map((a) => centred.map((b) => dot(a, b)));
  return h.map((row, i) => row.map((v, j) => (i === j ? 1 : v / Math.sqrt(h[i][i] * h[j][j]))));
}
