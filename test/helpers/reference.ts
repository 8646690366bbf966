// CPU references in float64 for the kernel tests, written plainly (no shared code with src/).

/** Deterministic values in [-1, 1) (LCG), so failures reproduce. */
export function values(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 31 - 1) * scale;
  }
  return out;
}

export interface GemmRef {
  c: Float64Array;
  /** sum_k |a_ik b_kj| per element: the scale of the rounding error an f32 sum can make. */
  mag: Float64Array;
}

/** C[b] = op(A[b]) op(B[b]); batch strides 0 broadcast a 2-D operand. */
export function gemmRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  o: {
    m: number;
    n: number;
    k: number;
    batch?: number;
    transA?: boolean;
    transB?: boolean;
    strideA?: number;
    strideB?: number;
  },
): GemmRef {
  const { m, n, k, batch = 1, transA = false, transB = false } = o;
  const sA = o.strideA ?? m * k;
  const sB = o.strideB ?? k * n;
  const c = new Float64Array(batch * m * n);
  const mag = new Float64Array(batch * m * n);
  for (let z = 0; z < batch; z++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        let t = 0;
        for (let p = 0; p < k; p++) {
          const av = a[z * sA + (transA ? p * m + i : i * k + p)];
          const bv = b[z * sB + (transB ? j * k + p : p * n + j)];
          s += av * bv;
          t += Math.abs(av * bv);
        }
        c[(z * m + i) * n + j] = s;
        mag[(z * m + i) * n + j] = t;
      }
    }
  }
  return { c, mag };
}

export function erf(x: number): number {
  // Series / continued fraction to ~1e-15, independent of the shader's approximation.
  const ax = Math.abs(x);
  let r: number;
  if (ax < 3) {
    let term = ax;
    let s = ax;
    for (let n = 1; n < 100; n++) {
      term *= (-ax * ax) / n;
      s += term / (2 * n + 1);
    }
    r = (2 / Math.sqrt(Math.PI)) * s;
  } else {
    r = 1 - (Math.exp(-ax * ax) / (ax * Math.sqrt(Math.PI))) * (1 - 1 / (2 * ax * ax));
  }
  return x < 0 ? -r : r;
}

export const act = {
  none: (x: number) => x,
  relu: (x: number) => Math.max(0, x),
  silu: (x: number) => x / (1 + Math.exp(-x)),
  gelu: (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
};

/** Reduces a [outer, r, inner] view along r. */
export function reduceRef(
  x: ArrayLike<number>,
  outer: number,
  r: number,
  inner: number,
  op: 'sum' | 'sumsq' | 'max' | 'mean',
) {
  const out = new Float64Array(outer * inner);
  const mag = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc = op === 'max' ? -Infinity : 0;
      let t = 0;
      for (let j = 0; j < r; j++) {
        const v = x[(o * r + j) * inner + i];
        if (op === 'max') acc = Math.max(acc, v);
        else acc += op === 'sumsq' ? v * v : v;
        t += op === 'sumsq' ? v * v : Math.abs(v);
      }
      out[o * inner + i] = op === 'mean' ? acc / r : acc;
      mag[o * inner + i] = op === 'mean' ? t / r : t;
    }
  }
  return { out, mag };
}

/** Largest |got - want| / (rel * scale + abs) over all elements; <= 1 passes. */
export function worstRatio(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  scale: ArrayLike<number> | number,
  rel: number,
  abs: number,
): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const s = typeof scale === 'number' ? scale : scale[i];
    const r = Math.abs(got[i] - want[i]) / (rel * s + abs);
    if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : r;
  }
  return worst;
}
