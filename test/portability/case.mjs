// The portability case, shared by the browser page (page.html), the Deno script (deno-check.mjs) and the
// vitest test (portability.test.ts): deterministic inputs, the GPU run through the public API of
// dist/index.js, a float64 CPU reference and the check with explicit tolerances.
// Plain ESM with no imports, so browsers and Deno load it as it is.

/** GEMM cases: an awkward shape that divides no tile, and a K-heavy one that takes the split-K path. */
export const GEMMS = [
  { name: 'gemm 67x45x131', m: 67, k: 45, n: 131, seed: 1 },
  {
    name: 'gemm 3x4099x5 transB bias relu (split-K)',
    m: 3,
    k: 4099,
    n: 5,
    seed: 2,
    transB: true,
    bias: true,
    activation: 'relu',
  },
];

/**
 * Every GEMM runs with both tile configurations (the ones chosen for CPU adapters and for GPUs), whatever
 * the adapter: each runtime then covers both kernels' specialisations.
 */
export const GEMM_TILES = ['cpu', 'gpu'];
const variant = (name, tiles) => `${name} (${tiles} tiles)`;

/** Reductions along the last axis: one long row, and many rows (~100k values each). */
export const SUMS = [
  { name: 'sum [100003]', shape: [100_003], seed: 3 },
  { name: 'sum [37, 2711] axis -1', shape: [37, 2711], seed: 4 },
];

/** GEMM: |c - ref| <= GEMM_REL * sum_k |a_ik b_kj| (+ |bias_j|) + GEMM_ABS. */
export const GEMM_REL = 1e-5;
export const GEMM_ABS = 1e-6;
/** Sum: |s - ref| <= SUM_REL * sum |x| over the reduced values. */
export const SUM_REL = 1e-6;

/** Deterministic f32 values in [-1, 1) from a 32-bit LCG. */
export function values(n, seed) {
  const out = new Float32Array(n);
  let s = Math.imul(seed, 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const sizeOf = (shape) => shape.reduce((p, d) => p * d, 1);

/** The inputs of every case, as Float32Arrays (the same bits in every runtime). */
export function inputs() {
  return {
    gemms: GEMMS.map((g) => ({
      a: values(g.m * g.k, g.seed * 10 + 1),
      b: values(g.k * g.n, g.seed * 10 + 2),
      bias: g.bias ? values(g.n, g.seed * 10 + 3) : undefined,
    })),
    sums: SUMS.map((s) => values(sizeOf(s.shape), s.seed * 10 + 1)),
  };
}

/**
 * Runs every case on a GPU device from `lib` (the module dist/index.js) and returns plain, JSON-safe
 * results: the adapter, then per case the f32 outputs as arrays of numbers.
 */
export async function runCase(lib, acquireOptions = {}) {
  const { acquireDevice, ops } = lib;
  const gpu = await acquireDevice(acquireOptions);
  try {
    const data = inputs();
    const gemms = [];
    for (const [i, g] of GEMMS.entries()) {
      const d = data.gemms[i];
      const a = gpu.tensor(d.a, [g.m, g.k]);
      const b = gpu.tensor(d.b, g.transB ? [g.n, g.k] : [g.k, g.n]);
      const bias = d.bias ? gpu.tensor(d.bias, [g.n]) : undefined;
      for (const kind of GEMM_TILES) {
        const tiles = ops.chooseGemmTiles({ m: g.m, n: g.n, k: g.k, batch: 1 }, kind === 'cpu');
        const opts = { transB: !!g.transB, bias, activation: g.activation ?? 'none', tiles };
        const c = ops.gemm(gpu, a, b, opts);
        const name = variant(g.name, kind);
        gemms.push({ name, tiles, shape: [...c.shape], values: Array.from(await gpu.readF32(c)) });
      }
    }
    const sums = [];
    for (const [i, s] of SUMS.entries()) {
      const x = gpu.tensor(data.sums[i], s.shape);
      const y = ops.sum(gpu, x, -1);
      sums.push({ name: s.name, shape: [...y.shape], values: Array.from(await gpu.readF32(y)) });
    }
    return { adapter: { ...gpu.adapter }, features: [...gpu.features].sort(), gemms, sums };
  } finally {
    gpu.destroy();
  }
}

/** float64 references: per case the expected values and the error scale of each. */
export function reference() {
  const data = inputs();
  const gemms = GEMMS.flatMap((g, i) => {
    const { a, b, bias } = data.gemms[i];
    const ref = new Float64Array(g.m * g.n);
    const mag = new Float64Array(g.m * g.n);
    for (let r = 0; r < g.m; r++) {
      for (let c = 0; c < g.n; c++) {
        let s = 0;
        let t = 0;
        for (let p = 0; p < g.k; p++) {
          const v = a[r * g.k + p] * (g.transB ? b[c * g.k + p] : b[p * g.n + c]);
          s += v;
          t += Math.abs(v);
        }
        if (bias) {
          s += bias[c];
          t += Math.abs(bias[c]);
        }
        ref[r * g.n + c] = g.activation === 'relu' ? Math.max(0, s) : s;
        mag[r * g.n + c] = t;
      }
    }
    return GEMM_TILES.map((kind) => ({ name: variant(g.name, kind), shape: [g.m, g.n], ref, mag }));
  });
  const sums = SUMS.map((s, i) => {
    const x = data.sums[i];
    const len = s.shape.at(-1);
    const rows = x.length / len;
    const ref = new Float64Array(rows);
    const mag = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < len; j++) {
        ref[r] += x[r * len + j];
        mag[r] += Math.abs(x[r * len + j]);
      }
    }
    return { name: s.name, shape: s.shape.slice(0, -1), ref, mag };
  });
  return { gemms, sums };
}

function compare(out, exp, rel, abs) {
  const problems = [];
  if (!out) return { problems: [`${exp.name}: missing from the results`], worst: Number.NaN };
  if (out.shape.join(',') !== exp.shape.join(',')) {
    problems.push(`${exp.name}: shape [${out.shape}] instead of [${exp.shape}]`);
  }
  if (out.values.length !== exp.ref.length) {
    problems.push(`${exp.name}: ${out.values.length} values instead of ${exp.ref.length}`);
    return { problems, worst: Number.NaN };
  }
  // worst: the largest |error| / tolerance (<= 1 passes).
  let worst = 0;
  let bad = 0;
  for (let i = 0; i < exp.ref.length; i++) {
    const got = out.values[i];
    const err = Math.abs(got - exp.ref[i]);
    const tol = rel * exp.mag[i] + abs;
    const ratio = err / tol;
    if (!(ratio <= 1)) {
      bad++;
      if (bad <= 5) {
        problems.push(
          `${exp.name}[${i}]: got ${got}, expected ${exp.ref[i]} (|error| ${err.toExponential(2)} > ${tol.toExponential(2)})`,
        );
      }
    }
    worst = Math.max(worst, Number.isNaN(ratio) ? Number.POSITIVE_INFINITY : ratio);
  }
  if (bad > 5) problems.push(`${exp.name}: ${bad} values out of tolerance in all`);
  return { problems, worst };
}

/**
 * Checks results from runCase against the float64 reference. Returns the problems found (empty when
 * all pass) and, per case, the worst error as a fraction of its tolerance.
 */
export function check(results, expected = reference()) {
  const problems = [];
  const worst = {};
  for (const exp of expected.gemms) {
    const r = compare(
      results.gemms?.find((g) => g.name === exp.name),
      exp,
      GEMM_REL,
      GEMM_ABS,
    );
    problems.push(...r.problems);
    worst[exp.name] = r.worst;
  }
  for (const exp of expected.sums) {
    const r = compare(
      results.sums?.find((s) => s.name === exp.name),
      exp,
      SUM_REL,
      0,
    );
    problems.push(...r.problems);
    worst[exp.name] = r.worst;
  }
  return { problems, worst };
}
