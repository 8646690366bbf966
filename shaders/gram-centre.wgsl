// Centring of an n x n Gram matrix K for HSIC, in two launches with fixed summation orders (deterministic).
// STATS: invocation i writes S[i] = sum_j K[i, j] and S[n + i] = sum_j K[j, i] (UNBIASED: j != i).
// Otherwise (apply): workgroup i writes row i of the centred matrix into Out at element offset
// `offset + i * n`, after its lanes fold the grand total sum_i S[i] in a fixed tree (the same in every
// workgroup). With r = row sums, c = column sums, t = total:
//   biased (Kc = HKH):   Out[i, j] = K[i, j] - r_i / n - c_j / n + t / n^2
//   UNBIASED (U-centring of K with a zero diagonal, Szekely & Rizzo 2014):
//                        Out[i, j] = K[i, j] - r_i / (n - 2) - c_j / (n - 2) + t / ((n - 1)(n - 2)), i != j;
//                        Out[i, i] = 0.
// so that <Out_K, Out_L>_F is (n - 1)^2 HSIC_b, or n (n - 3) HSIC_u (Song et al. 2012) respectively.

// Params: the uniforms declared in src/ops/norm/centre.ts.
#include params

@group(0) @binding(0) var<storage, read> K: array<f32>;
#if ${STATS}
@group(0) @binding(1) var<storage, read_write> S: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let i = (wg.y * p.gridX + wg.x) * ${WG}u + lane;
  if (i >= p.n) {
    return;
  }
  var r = 0.0;
  var c = 0.0;
  for (var j = 0u; j < p.n; j++) {
#if ${UNBIASED}
    if (j == i) {
      continue;
    }
#endif
    r += K[i * p.n + j];
    c += K[j * p.n + i];
  }
  S[i] = r;
  S[p.n + i] = c;
}
#else
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> partial: array<f32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let i = wg.y * p.gridX + wg.x;
  var t = 0.0;
  for (var j = lane; j < p.n; j += ${WG}u) {
    t += S[j];
  }
  partial[lane] = t;
  workgroupBarrier();
  for (var half = ${WG}u / 2u; half > 0u; half /= 2u) {
    if (lane < half) {
      partial[lane] += partial[lane + half];
    }
    workgroupBarrier();
  }
  if (i >= p.n) {
    return;
  }
  let grand = partial[0] * p.totalScale;
  let ri = S[i] * p.rowScale;
  for (var j = lane; j < p.n; j += ${WG}u) {
    var v = K[i * p.n + j] - ri - S[p.n + j] * p.rowScale + grand;
#if ${UNBIASED}
    v = select(v, 0.0, j == i);
#endif
    Out[p.offset + i * p.n + j] = v;
  }
}
#endif
