// Gradient-check helpers shared by the kernel and model tests: f64 central differences and the
// tolerance measure every comparison against a reference uses.

export type Vec = ArrayLike<number>;

/** sum(out * r) in f64: the scalar loss whose gradient the backward kernels compute. */
export function dot(out: Vec, r: Vec): number {
  let s = 0;
  for (let i = 0; i < out.length; i++) s += out[i] * r[i];
  return s;
}

/**
 * d loss / d v[i] for the listed indices (all by default), by central differences in f64: `loss` is
 * evaluated with v replaced by a perturbed f64 copy.
 */
export function numericGrad(v0: Vec, loss: (v: Float64Array) => number, eps: number, only?: number[]) {
  const v = Float64Array.from(v0);
  const idx = only ?? Array.from({ length: v.length }, (_, i) => i);
  const g = new Float64Array(idx.length);
  idx.forEach((i, n) => {
    const keep = v[i];
    v[i] = keep + eps;
    const up = loss(v);
    v[i] = keep - eps;
    const down = loss(v);
    v[i] = keep;
    g[n] = (up - down) / (2 * eps);
  });
  return g;
}

/** Picks `count` spread-out indices of [0, n) (all of them when n <= count). */
export function sampleIndices(n: number, count: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: count }, (_, i) => Math.floor(((i + 0.5) * n) / count));
}

/** Largest |got - want| / (rel * max|want| + abs); <= 1 passes. */
export function worstVsMax(got: Vec, want: Vec, rel: number, abs = 0): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  let max = 0;
  for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(want[i]));
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const r = Math.abs(got[i] - want[i]) / (rel * max + abs);
    if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : r;
  }
  return worst;
}

/** Values of `got` at the given indices. */
export function pick(got: Vec, idx: number[]): Float64Array {
  return Float64Array.from(idx, (i) => got[i]);
}
