// One pass of a deterministic reduction along the middle axis of a [outer, R, inner] view:
// out[o, c, i] = fold over r in chunk c of x[o, r, i], in a fixed order (no atomics). Chaining passes
// until one chunk remains gives the full reduction. MAX folds with max, otherwise sum; SQUARE squares
// inputs (first pass of a sum of squares); the result is multiplied by `scale` (1/R on the last pass of
// a mean). ROWS (inner = 1): a workgroup folds one chunk of one row, lanes striding through it (VEC4 reads
// four at a time into sixteen chains), then a tree in workgroup memory. Otherwise each invocation folds one
// column's chunk.

// Params: the uniforms declared in src/ops/reduce/reduce.ts.
#include params

#if ${VEC4}
@group(0) @binding(0) var<storage, read> X: array<vec4f>;
#else
@group(0) @binding(0) var<storage, read> X: array<f32>;
#endif
@group(0) @binding(1) var<storage, read_write> Out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

fn identity() -> f32 {
#if ${MAX}
  return -0x1.fffffep+127f;
#else
  return 0.0;
#endif
}

fn fold(acc: f32, v: f32) -> f32 {
#if ${MAX}
  return max(acc, v);
#else
  return acc + v;
#endif
}

fn prep(v: f32) -> f32 {
#if ${SQUARE}
  return v * v;
#else
  return v;
#endif
}

fn combine4(a: vec4f, b: vec4f) -> vec4f {
#if ${MAX}
  return max(a, b);
#else
  return a + b;
#endif
}

fn fold4(acc: vec4f, v: vec4f) -> vec4f {
#if ${MAX}
  return max(acc, v);
#elif ${SQUARE}
  return acc + v * v;
#else
  return acc + v;
#endif
}

#if ${ROWS}
var<workgroup> partial: array<f32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let id = wg.y * p.gridX + wg.x;
  let row = id / p.chunks;
  let c = id % p.chunks;
  let valid = row < p.outer;
  var acc = identity();
  if (valid) {
    let start = row * p.r + c * p.chunk;
    let len = min(p.chunk, p.r - c * p.chunk);
#if ${VEC4}
    // Four independent chains per lane: shorter rounding chains, and no serial dependency on one register.
    // Four independent vec4 chains (unrolled by four) so the per-lane loads of one step overlap.
    var c0 = vec4f(identity());
    var c1 = c0;
    var c2 = c0;
    var c3 = c0;
    let n4 = len / 4u;
    let base = start / 4u;
    var j = lane;
    for (; j + 3u * ${WG}u < n4; j += 4u * ${WG}u) {
      c0 = fold4(c0, X[base + j]);
      c1 = fold4(c1, X[base + j + ${WG}u]);
      c2 = fold4(c2, X[base + j + 2u * ${WG}u]);
      c3 = fold4(c3, X[base + j + 3u * ${WG}u]);
    }
    for (; j < n4; j += ${WG}u) {
      c0 = fold4(c0, X[base + j]);
    }
    let c = combine4(combine4(c0, c1), combine4(c2, c3));
    acc = fold(fold(c.x, c.y), fold(c.z, c.w));
#else
    for (var j = lane; j < len; j += ${WG}u) {
      acc = fold(acc, prep(X[start + j]));
    }
#endif
  }
  partial[lane] = acc;
  workgroupBarrier();
  for (var half = ${WG}u / 2u; half > 0u; half /= 2u) {
    if (lane < half) {
      partial[lane] = fold(partial[lane], partial[lane + half]);
    }
    workgroupBarrier();
  }
  if (lane == 0u && valid) {
    Out[row * p.chunks + c] = partial[0] * p.scale;
  }
}
#else
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let id = (wg.y * p.gridX + wg.x) * ${WG}u + lane;
  let i = id % p.inner;
  let oc = id / p.inner;
  let c = oc % p.chunks;
  let o = oc / p.chunks;
  if (o >= p.outer) {
    return;
  }
  let r0 = c * p.chunk;
  let r1 = min(p.r, r0 + p.chunk);
  var acc = identity();
  for (var r = r0; r < r1; r++) {
    acc = fold(acc, prep(X[(o * p.r + r) * p.inner + i]));
  }
  Out[(o * p.chunks + c) * p.inner + i] = acc * p.scale;
}
#endif
