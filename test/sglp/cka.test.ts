import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/device.js';
import { chooseGemmTiles } from '../../src/ops/linalg/gemm-config.js';
import { chooseGramKernel, gram } from '../../src/ops/linalg/gram.js';
import { centreColumns, centreGram } from '../../src/ops/norm/centre.js';
import { CkaAccumulator, CkaError, ckaFromHsic, type Estimator } from '../../src/sglp/cka.js';
import { featureGram } from '../../src/sglp/gram.js';
import { useGpu } from '../helpers/gpu.js';
import { values } from '../helpers/reference.js';

const getGpu = useGpu();

// ---- float64 references, straight from SGLP.md §1 (no shared code with src/) ---------------------------

type Mat = Float64Array; // n x n, row-major

/** K = X Xᵀ of the raw (uncentred) features, in f64. */
function gramRef(x: ArrayLike<number>, n: number): Mat {
  const p = x.length / n;
  const k = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let c = 0; c < p; c++) s += x[i * p + c] * x[j * p + c];
      k[i * n + j] = s;
    }
  }
  return k;
}

/** HSIC_b = tr(K H L H) / (n-1)^2 with H = I - 11ᵀ/n, formed explicitly. */
function hsicBiasedRef(k: Mat, l: Mat, n: number): number {
  const h = (i: number, j: number) => (i === j ? 1 : 0) - 1 / n;
  const mul = (a: Mat, b: (i: number, j: number) => number) => {
    const out = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < n; t++) s += a[i * n + t] * b(t, j);
        out[i * n + j] = s;
      }
    return out;
  };
  const khlh = mul(
    mul(mul(k, h), (i, j) => l[i * n + j]),
    h,
  );
  let tr = 0;
  for (let i = 0; i < n; i++) tr += khlh[i * n + i];
  return tr / (n - 1) ** 2;
}

/**
 * Song et al. 2012, literally: HSIC_u = [tr(K̃L̃) + 1ᵀK̃1·1ᵀL̃1/((n−1)(n−2)) − 2/(n−2)·1ᵀK̃L̃1] / (n(n−3)),
 * K̃, L̃ = K, L with zero diagonals.
 */
function hsicUnbiasedRef(k: Mat, l: Mat, n: number): number {
  const kt = k.map((v, e) => (e % (n + 1) === 0 ? 0 : v));
  const lt = l.map((v, e) => (e % (n + 1) === 0 ? 0 : v));
  let tr = 0;
  let sk = 0;
  let sl = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      tr += kt[i * n + j] * lt[j * n + i];
      sk += kt[i * n + j];
      sl += lt[i * n + j];
    }
  let klOnes = 0; // 1ᵀ K̃ L̃ 1 = Σ_i (K̃1)_i (L̃ᵀ1)_i
  for (let t = 0; t < n; t++) {
    let a = 0;
    let b = 0;
    for (let i = 0; i < n; i++) a += kt[i * n + t];
    for (let j = 0; j < n; j++) b += lt[t * n + j];
    klOnes += a * b;
  }
  return (tr + (sk * sl) / ((n - 1) * (n - 2)) - (2 / (n - 2)) * klOnes) / (n * (n - 3));
}

function hsicMatrixRef(feats: ArrayLike<number>[], n: number, est: Estimator): number[][] {
  const grams = feats.map((x) => gramRef(x, n));
  const f = est === 'biased' ? hsicBiasedRef : hsicUnbiasedRef;
  return grams.map((k) => grams.map((l) => f(k, l, n)));
}

function ckaRef(h: number[][]): number[][] {
  return h.map((row, i) => row.map((v, j) => (i === j ? 1 : v / Math.sqrt(h[i][i] * h[j][j]))));
}

/** Features with structure: a shared random projection of a common source plus unit-specific noise, some
 * through a ReLU (a positive mean, as after a residual block), so CKA values spread over (0, 1). */
function features(n: number, widths: readonly number[], seed: number): Float32Array[] {
  const src = values(n * 4, seed);
  return widths.map((p, u) => {
    const proj = values(4 * p, seed + 101 * (u + 1));
    const noise = values(n * p, seed + 7919 * (u + 1), 0.3 + 0.2 * u);
    const x = new Float32Array(n * p);
    for (let i = 0; i < n; i++)
      for (let c = 0; c < p; c++) {
        let s = noise[i * p + c];
        for (let t = 0; t < 4; t++) s += src[i * 4 + t] * proj[t * p + c];
        x[i * p + c] = u % 2 === 1 ? Math.max(0, s + 0.5) : s;
      }
    return x;
  });
}

const names = (count: number) => Array.from({ length: count }, (_, i) => `layer.${i}`);

async function runCka(
  gpu: Gpu,
  batches: Float32Array[][],
  ns: number[],
  est: Estimator,
  opts: { maxChunkBytes?: number; shapes?: (p: number) => number[] } = {},
) {
  const L = batches[0].length;
  const acc = new CkaAccumulator(gpu, { units: names(L), estimator: est, maxChunkBytes: opts.maxChunkBytes });
  const perBatch = [];
  for (let b = 0; b < batches.length; b++) {
    const n = ns[b];
    acc.beginBatch(n);
    for (let u = 0; u < L; u++) {
      const x = batches[b][u];
      const p = x.length / n;
      const t = gpu.tensor(x, opts.shapes ? [n, ...opts.shapes(p)] : [n, p]);
      acc.addUnit(u, t);
      t.dispose(); // allowed straight away
    }
    perBatch.push(await acc.endBatch());
  }
  const result = acc.result();
  acc.dispose();
  return { result, perBatch };
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  let m = 0;
  for (let i = 0; i < a.length; i++)
    for (let j = 0; j < a.length; j++) m = Math.max(m, Math.abs(a[i][j] - b[i][j]));
  return m;
}

/** |HSIC_ij - ref| / sqrt(ref_ii ref_jj): the error on the scale CKA is measured in. */
function hsicError(got: number[][], ref: number[][]): number {
  let m = 0;
  for (let i = 0; i < ref.length; i++)
    for (let j = 0; j < ref.length; j++)
      m = Math.max(m, Math.abs(got[i][j] - ref[i][j]) / Math.sqrt(ref[i][i] * ref[j][j]));
  return m;
}

// Tolerances. Everything on the GPU is f32 (unit roundoff u = 6e-8): column means over n rows, Gram
// entries accumulated over p columns (chains of p / splits terms), centring over n, and the Frobenius
// products over n² terms (chains of n² / splits). Relative to the natural scale sqrt(HSIC_ii HSIC_jj),
// each stage adds about u·sqrt(chain) typically (u·chain at worst); the longest chains here are
// 20000 / 3 columns, so ~5e-6 is the typical-case budget. Measured on these cases: HSIC within 6e-7 of
// f64 on that scale, CKA within 3e-7, the invariances within 5e-7; 5e-6 keeps a margin of ~8 over them
// and is far below differences that matter for segmentation (row sums of 28 values).
const TOL = 5e-6;

describe('CKA kernels', () => {
  it.each([
    [7, 1],
    [7, 5],
    [33, 1000],
    [4, 12],
    [9, 20000],
  ])('centreColumns [%i, %i] matches f64 and centres constant columns to exact zeros', async (n, p) => {
    const gpu = await getGpu();
    const x = values(n * p, n * 31 + p);
    for (let i = 0; i < n; i++) x[i * p] = 0.1; // column 0 constant, at a value the mean would round
    const got = await gpu.readF32(centreColumns(gpu, gpu.tensor(x, [n, p])));
    let worst = 0;
    for (let c = 0; c < p; c++) {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += x[i * p + c];
      mean /= n;
      for (let i = 0; i < n; i++) {
        // f32 sum of n terms: error <= n u max|x| (here |x| <= 1).
        worst = Math.max(worst, Math.abs(got[i * p + c] - (x[i * p + c] - mean)));
      }
    }
    expect(worst).toBeLessThan(n * 1.2e-7 + 1e-7);
    for (let i = 0; i < n; i++) expect(got[i * p]).toBe(0);
  });

  it.each([
    [7, 'biased'],
    [33, 'biased'],
    [4, 'unbiased'],
    [33, 'unbiased'],
  ] as const)('centreGram n=%i %s matches f64 (written at an offset)', async (n, mode) => {
    const gpu = await getGpu();
    const x = features(n, [6], n)[0];
    const k64 = gramRef(x, n);
    const k = gpu.tensor(Float32Array.from(k64), [n, n]);
    const out = gpu.zeros([3, n * n]);
    centreGram(gpu, k, { mode, out, offset: n * n });
    const got = await gpu.readF32(out);
    const ref = new Float64Array(n * n);
    const rs = (i: number) => {
      let s = 0;
      for (let j = 0; j < n; j++) if (mode === 'biased' || j !== i) s += k64[i * n + j];
      return s;
    };
    let t = 0;
    for (let i = 0; i < n; i++) t += rs(i);
    let scale = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        scale = Math.max(scale, Math.abs(k64[i * n + j]));
        ref[i * n + j] =
          mode === 'biased'
            ? k64[i * n + j] - rs(i) / n - rs(j) / n + t / (n * n)
            : i === j
              ? 0
              : k64[i * n + j] - rs(i) / (n - 2) - rs(j) / (n - 2) + t / ((n - 1) * (n - 2));
      }
    for (let e = 0; e < n * n; e++) {
      expect(got[e]).toBe(0); // row 0 untouched
      expect(got[2 * n * n + e]).toBe(0); // row 2 untouched
      // f32 sums of n entries bounded by scale: n u scale.
      expect(Math.abs(got[n * n + e] - ref[e])).toBeLessThanOrEqual(4 * n * 6e-8 * scale);
    }
    expect(() => centreGram(gpu, gpu.zeros([3, 3]), { mode: 'unbiased' })).toThrow(/n >= 4/);
    expect(() => centreGram(gpu, k, { out: gpu.zeros([n * n]), offset: 1 })).toThrow(/offset 1/);
  });

  it.each([
    [1, 4],
    [7, 8],
    [33, 1000],
    [65, 12],
    [161, 404],
    [700, 8],
  ])(
    'gram [%i, %i]: the symmetric kernel matches f64, the GEMM bit for bit, and is exactly symmetric',
    async (n, p) => {
      const gpu = await getGpu();
      const x = values(n * p, 17 * n + p);
      const t = gpu.tensor(x, [n, p]);
      const syrk = await gpu.readF32(gram(gpu, t, { kernel: 'syrk' }));
      const viaGemm = await gpu.readF32(gram(gpu, t, { kernel: 'gemm' }));
      const ref = gramRef(x, n);
      let asymmetric = 0;
      let worst = 0;
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          if (syrk[i * n + j] !== syrk[j * n + i]) asymmetric++;
          const scale = Math.sqrt(ref[i * n + i] * ref[j * n + j]);
          worst = Math.max(worst, Math.abs(syrk[i * n + j] - ref[i * n + j]) / scale);
        }
      expect(asymmetric).toBe(0);
      // One f32 fma chain over p terms: error <= p u sum|x_i x_j|; relative to sqrt(K_ii K_jj) (which
      // bounds sum|x_i x_j| by Cauchy-Schwarz) that is p u = 2.4e-5 at p = 404, typically sqrt(p) u = 1.2e-6.
      expect(worst).toBeLessThan(5e-6);
      // Same chain order as the GEMM without split-K: identical bits (the GEMM splits K for small n).
      if (chooseGemmTiles({ m: n, n, k: p, batch: 1 }, true).splits === 1) expect(syrk).toEqual(viaGemm);
      expect(() => gram(gpu, gpu.zeros([n, 3]), { kernel: 'syrk' })).toThrow(/p % 4 == 0/);
    },
  );

  it('chooses the symmetric Gram kernel only where it pays', () => {
    const cpu = { isCpu: true, subgroupSize: 8 };
    expect(chooseGramKernel(500, 12544, cpu)).toBe('syrk');
    expect(chooseGramKernel(512, 4096, cpu)).toBe('syrk');
    expect(chooseGramKernel(500, 12545, cpu)).toBe('gemm'); // p % 4 != 0
    expect(chooseGramKernel(33, 20000, cpu)).toBe('gemm'); // 3 tiles: split-K keeps the cores busier
    expect(chooseGramKernel(500, 12544, { isCpu: true, subgroupSize: 0 })).toBe('gemm');
    expect(chooseGramKernel(500, 12544, { isCpu: false, subgroupSize: 32 })).toBe('gemm');
  });

  it('featureGram of wide features uses split-K and stays within f32 accuracy', async () => {
    const gpu = await getGpu();
    for (const [n, p] of [
      [7, 20000],
      [33, 20000],
      [7, 1000],
    ]) {
      expect(chooseGemmTiles({ m: n, n, k: p, batch: 1 }, gpu.adapter.isCpu).splits).toBeGreaterThan(1);
      const x = features(n, [p], p + n)[0];
      const got = await gpu.readF32(featureGram(gpu, gpu.tensor(x, [n, p])));
      // Reference: K of the f64-centred features; error relative to sqrt(K_ii K_jj) (Cauchy-Schwarz scale).
      const xc = new Float64Array(n * p);
      for (let c = 0; c < p; c++) {
        let m = 0;
        for (let i = 0; i < n; i++) m += x[i * p + c];
        for (let i = 0; i < n; i++) xc[i * p + c] = x[i * p + c] - m / n;
      }
      const ref = gramRef(xc, n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          const scale = Math.sqrt(ref[i * n + i] * ref[j * n + j]);
          expect(Math.abs(got[i * n + j] - ref[i * n + j]) / scale).toBeLessThan(1e-5);
        }
    }
  });
});

describe('CkaAccumulator', () => {
  it.each([
    [7, 'biased'],
    [33, 'biased'],
    [7, 'unbiased'],
    [33, 'unbiased'],
  ] as const)('n=%i %s: HSIC and CKA match f64 for p = 1, 5, 1000, 20000', async (n, est) => {
    const gpu = await getGpu();
    const widths = [1, 5, 1000, 20000, 5];
    const feats = features(n, widths, 3 * n);
    const { result, perBatch } = await runCka(gpu, [feats], [n], est);
    const href = hsicMatrixRef(feats, n, est);
    const cref = ckaRef(href);
    expect(hsicError(perBatch[0].hsic, href)).toBeLessThan(TOL);
    expect(maxAbsDiff(result.matrix, cref)).toBeLessThan(TOL);
    expect(result).toMatchObject({ units: names(5), batches: 1, estimator: est, batchSize: n });
    // Not degenerate: the cases span a range of CKA values.
    const off = cref.flatMap((r, i) => r.filter((_, j) => j !== i));
    expect(Math.max(...off) - Math.min(...off)).toBeGreaterThan(0.2);
    for (let i = 0; i < 5; i++) {
      expect(result.matrix[i][i]).toBe(1);
      for (let j = 0; j < 5; j++) expect(result.matrix[i][j]).toBe(result.matrix[j][i]);
    }
  });

  it.each(['biased', 'unbiased'] as const)(
    '%s: CKA(X, X) = 1, CKA(X, XQ) = 1 for orthogonal Q, invariant to isotropic scaling and shifts',
    async (est) => {
      const gpu = await getGpu();
      const n = 33;
      for (const p of [5, 64]) {
        const [x, y] = features(n, [p, 17], p);
        // Random orthogonal Q (Gram-Schmidt in f64).
        const g = values(p * p, 5 * p);
        const q: Float64Array[] = [];
        for (let r = 0; r < p; r++) {
          const v = Float64Array.from(g.subarray(r * p, (r + 1) * p));
          for (const u of q) {
            const d = v.reduce((s, vi, c) => s + vi * u[c], 0);
            for (let c = 0; c < p; c++) v[c] -= d * u[c];
          }
          const norm = Math.sqrt(v.reduce((s, vi) => s + vi * vi, 0));
          q.push(v.map((vi) => vi / norm));
        }
        const xq = new Float32Array(n * p);
        for (let i = 0; i < n; i++)
          for (let c = 0; c < p; c++) {
            let s = 0;
            for (let t = 0; t < p; t++) s += x[i * p + t] * q[t][c];
            xq[i * p + c] = s;
          }
        const scaled = x.map((v) => v * 37.5);
        const shifted = x.map((v, e) => v + 3 + (e % p));
        const { result } = await runCka(gpu, [[x, x, xq, scaled, shifted, y]], [n], est);
        const m = result.matrix;
        for (let a = 0; a < 5; a++)
          for (let b = 0; b < 5; b++) expect(Math.abs(m[a][b] - 1)).toBeLessThan(TOL);
        // Identical features: the same products in the same order, so exactly 1.
        expect(m[0][1]).toBe(1);
        for (let a = 1; a < 5; a++) expect(Math.abs(m[a][5] - m[0][5])).toBeLessThan(TOL);
        expect(m[0][5]).toBeLessThan(0.99);
      }
    },
  );

  it('a signed permutation of 20000 columns keeps CKA at 1 (split-K path)', async () => {
    const gpu = await getGpu();
    const n = 7;
    const p = 20000;
    const [x] = features(n, [p], 11);
    const perm = Array.from({ length: p }, (_, c) => (c * 7919) % p);
    const xq = new Float32Array(n * p);
    for (let i = 0; i < n; i++)
      for (let c = 0; c < p; c++) xq[i * p + c] = (c % 3 ? 1 : -1) * x[i * p + perm[c]];
    const { result } = await runCka(gpu, [[x, xq]], [n], 'biased');
    expect(Math.abs(result.matrix[0][1] - 1)).toBeLessThan(TOL);
  });

  it.each(['biased', 'unbiased'] as const)(
    '%s: a constant representation is an error naming the unit, never NaN',
    async (est) => {
      const gpu = await getGpu();
      const n = 7;
      const feats = features(n, [5, 40, 3], 2);
      // Every row the same (columns differ from each other): constant across samples.
      const constant = new Float32Array(n * 40);
      for (let i = 0; i < n; i++) for (let c = 0; c < 40; c++) constant[i * 40 + c] = 0.1 * c + 0.7;
      const units = ['conv1', 'layer1.0', 'layer1.1'];
      const acc = new CkaAccumulator(gpu, { units, estimator: est });
      acc.beginBatch(n);
      for (const [u, x] of [feats[0], constant, feats[2]].entries())
        acc.addUnit(u, gpu.tensor(x, [n, x.length / n]));
      const err = await acc.endBatch().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CkaError);
      expect((err as CkaError).unit).toBe('layer1.0');
      expect((err as Error).message).toMatch(/unit layer1\.0 has a constant representation on batch 1/);
      // All zeros too, and NaN features are named as such.
      expect(() =>
        ckaFromHsic(
          [
            [1, 0],
            [0, 0],
          ],
          ['a', 'b'],
        ),
      ).toThrow(/unit b has a constant/);
      expect(() =>
        ckaFromHsic(
          [
            [Number.NaN, 0],
            [0, 1],
          ],
          ['a', 'b'],
        ),
      ).toThrow(/unit a has a non-finite/);
      acc.dispose();
    },
  );

  it('averages per-batch CKA in f64 (a shorter last batch included) and is bit-for-bit repeatable', async () => {
    const gpu = await getGpu();
    const widths = [3, 64, 250, 9];
    const ns = [33, 33, 12];
    const batches = ns.map((n, b) => features(n, widths, 100 + b));
    const first = await runCka(gpu, batches, ns, 'biased');
    const refs = batches.map((f, b) => ckaRef(hsicMatrixRef(f, ns[b], 'biased')));
    for (let b = 0; b < 3; b++) expect(maxAbsDiff(first.perBatch[b].cka, refs[b])).toBeLessThan(TOL);
    const avg = refs[0].map((row, i) =>
      row.map((_, j) => (i === j ? 1 : (refs[0][i][j] + refs[1][i][j] + refs[2][i][j]) / 3)),
    );
    expect(maxAbsDiff(first.result.matrix, avg)).toBeLessThan(TOL);
    expect(first.result).toMatchObject({ batches: 3, batchSize: 33, estimator: 'biased' });
    // The average of the per-batch f64 matrices, exactly (same order of additions).
    const exact = first.perBatch[0].cka.map((row, i) =>
      row.map((v, j) => (i === j ? 1 : (v + first.perBatch[1].cka[i][j] + first.perBatch[2].cka[i][j]) / 3)),
    );
    expect(first.result.matrix).toEqual(exact);
    const second = await runCka(gpu, batches, ns, 'biased');
    expect(second.result.matrix).toEqual(first.result.matrix);
    for (let b = 0; b < 3; b++) expect(second.perBatch[b].hsic).toEqual(first.perBatch[b].hsic);
  });

  it('is bit-for-bit repeatable at a size that uses the symmetric Gram kernel', async () => {
    const gpu = await getGpu();
    const n = 256;
    const widths = [16, 400, 36];
    expect(chooseGramKernel(n, 400, { isCpu: gpu.adapter.isCpu, subgroupSize: gpu.fixedSubgroupSize })).toBe(
      gpu.adapter.isCpu && gpu.fixedSubgroupSize === 8 ? 'syrk' : 'gemm',
    );
    const batches = [features(n, widths, 1), features(n, widths, 2)];
    for (const est of ['biased', 'unbiased'] as const) {
      const a = await runCka(gpu, batches, [n, n], est);
      const b = await runCka(gpu, batches, [n, n], est);
      expect(b.result.matrix).toEqual(a.result.matrix);
      expect(b.perBatch[1].hsic).toEqual(a.perBatch[1].hsic);
    }
  });

  it('chunks the stacked Grams when they exceed one binding, with the same result', async () => {
    const gpu = await getGpu();
    const n = 20;
    const widths = [3, 17, 64, 5, 100, 8, 31];
    const feats = features(n, widths, 77);
    const whole = await runCka(gpu, [feats], [n], 'unbiased');
    // Room for 3 Grams per chunk: chunks of 3, 2, 2 (balanced) rows.
    const chunked = await runCka(gpu, [feats], [n], 'unbiased', { maxChunkBytes: 3 * n * n * 4 });
    expect(maxAbsDiff(chunked.result.matrix, whole.result.matrix)).toBeLessThan(1e-6);
    expect(maxAbsDiff(chunked.result.matrix, ckaRef(hsicMatrixRef(feats, n, 'unbiased')))).toBeLessThan(TOL);
  });

  it('takes [n, C, H, W] features and column blocks of a wide unit', async () => {
    const gpu = await getGpu();
    const n = 9;
    const feats = features(n, [48, 7, 300], 5);
    const ref = ckaRef(hsicMatrixRef(feats, n, 'biased'));
    const nchw = await runCka(gpu, [feats], [n], 'biased', { shapes: (p) => (p === 48 ? [3, 4, 4] : [p]) });
    expect(maxAbsDiff(nchw.result.matrix, ref)).toBeLessThan(TOL);

    const acc = new CkaAccumulator(gpu, { units: ['a', 'b', 'c'] });
    acc.beginBatch(n);
    acc.addUnit(1, gpu.tensor(feats[1], [n, 7]));
    // Unit 2 in three column blocks, inside a scope that disposes everything it created.
    await gpu.scope(() => {
      for (const [c0, c1] of [
        [0, 100],
        [100, 101],
        [101, 300],
      ]) {
        const block = new Float32Array(n * (c1 - c0));
        for (let i = 0; i < n; i++) block.set(feats[2].subarray(i * 300 + c0, i * 300 + c1), i * (c1 - c0));
        acc.addColumns(2, gpu.tensor(block, [n, c1 - c0]));
      }
    });
    acc.addUnit(0, gpu.tensor(feats[0], [n, 48]));
    await acc.endBatch();
    expect(maxAbsDiff(acc.result().matrix, ref)).toBeLessThan(TOL);
    acc.dispose();
  });

  it('rejects misuse with clear errors', async () => {
    const gpu = await getGpu();
    expect(() => new CkaAccumulator(gpu, { units: ['a', 'a'] })).toThrow(/a appears twice/);
    expect(() => new CkaAccumulator(gpu, { units: ['a'], estimator: 'x' as Estimator })).toThrow(
      /unknown estimator/,
    );
    const acc = new CkaAccumulator(gpu, { units: ['stem', 'block'], estimator: 'unbiased' });
    expect(() => acc.result()).toThrow(/no batch/);
    expect(() => acc.addUnit(0, gpu.zeros([4, 2]))).toThrow(/outside a batch/);
    expect(() => acc.beginBatch(3)).toThrow(/at least 4 rows, got 3/);
    acc.beginBatch(5);
    expect(() => acc.addUnit(2, gpu.zeros([5, 2]))).toThrow(/index 2 is out of range/);
    expect(() => acc.addUnit(0, gpu.zeros([4, 2]))).toThrow(/unit stem.*expected features \[5, \.\.\.\]/);
    acc.addUnit(0, gpu.tensor(values(10, 1), [5, 2]));
    expect(() => acc.addUnit(0, gpu.zeros([5, 2]))).toThrow(/stem was already added/);
    await expect(acc.endBatch()).rejects.toThrow(/missing the features of unit\(s\) block/);
    acc.dispose();
  });
});
