// Folds the K slices of a split-K GEMM in slice order (deterministic) and applies the epilogue:
// C[b, m, n] = act(alpha * sum_s P[b * splits + s, m, n] + bias).
#if ${F16}
enable f16;
#endif

// Params: the uniforms declared in src/ops/linalg/gemm.ts.
#include params

@group(0) @binding(0) var<storage, read> P: array<f32>;
#if ${HAS_BIAS}
@group(0) @binding(1) var<storage, read> Bias: array<f32>;
#endif
@group(0) @binding(${BIND_C}) var<storage, read_write> C: array<${OUT}>;
@group(0) @binding(${BIND_P}) var<uniform> p: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let id = (wg.y * p.gridX + wg.x) * ${WG}u + lane;
  let mn = p.m * p.n;
  if (id >= p.batch * mn) {
    return;
  }
  let b = id / mn;
  let e = id % mn;
  var s = 0.0;
  for (var i = 0u; i < p.splits; i++) {
    s += P[(b * p.splits + i) * mn + e];
  }
  var v = s * p.alpha;
#if ${BIAS_N}
  v += Bias[e % p.n];
#elif ${BIAS_M}
  v += Bias[e / p.n];
#endif
  C[id] = ${OUT}(activate(v));
}
