// Per-channel partial sums of NCHW tensors (viewed as [N, C, HW]) over one slice of the batch, the
// first pass of a deterministic reduction (fold-slices.wgsl adds the slices in order):
//   SUM:    P[slice, c]          = sum x
//   SQDEV:  P[slice, c]          = sum (x - Mean[c])^2                  (biased variance, two-pass)
//   BWD:    P[slice, c], P[slice, C + c] = sum dy, sum dy * xhat           (batch-norm backward)
//           with xhat = (x - Mean[c]) * inverseSqrt(Mean[C + c] + eps) (Mean holds the packed [mean, var])
//           and, with MASK, dy replaced by dy * (Mask > 0) (a ReLU after the batch norm).
// over n in [slice * nPerSlice, ...) and every position. One workgroup per (channel, slice): lanes stride
// over positions (VEC4 reads four at a time), then a fixed tree in workgroup memory. No atomics.

// Params: the uniforms declared in src/ops/norm/batchnorm.ts.
#include params

#if ${VEC4}
alias V = vec4f;
#else
alias V = f32;
#endif

@group(0) @binding(0) var<storage, read> X: array<V>;
#if ${BWD}
@group(0) @binding(1) var<storage, read> DY: array<V>;
@group(0) @binding(2) var<storage, read> Mean: array<f32>;
#if ${MASK}
@group(0) @binding(3) var<storage, read> Mask: array<V>;
@group(0) @binding(4) var<storage, read_write> P: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
#else
@group(0) @binding(3) var<storage, read_write> P: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
#endif
#elif ${SQDEV}
@group(0) @binding(1) var<storage, read> Mean: array<f32>;
@group(0) @binding(2) var<storage, read_write> P: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#else
@group(0) @binding(1) var<storage, read_write> P: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
#endif

var<workgroup> s1: array<f32, ${WG}>;
#if ${BWD}
var<workgroup> s2: array<f32, ${WG}>;
#endif

fn total(v: V) -> f32 {
#if ${VEC4}
  return (v.x + v.y) + (v.z + v.w);
#else
  return v;
#endif
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let id = wg.y * p.gridX + wg.x;
  let c = id % p.c;
  let slice = id / p.c;
  let n0 = slice * p.nPerSlice;
  let n1 = min(p.n, n0 + p.nPerSlice);
#if ${VEC4}
  let len = p.hw / 4u;
#else
  let len = p.hw;
#endif
#if ${CENTERED}
  let m = Mean[min(c, p.c - 1u)];
#endif
#if ${BWD}
  let invstd = inverseSqrt(Mean[p.c + min(c, p.c - 1u)] + p.eps);
#endif
  var a = 0.0;
  var b = 0.0;
  if (slice < p.slices) {
    for (var n = n0; n < n1; n++) {
      let base = (n * p.c + c) * len;
      for (var j = lane; j < len; j += ${WG}u) {
        let x = X[base + j];
#if ${BWD}
#if ${MASK}
        let g = select(V(0.0), DY[base + j], Mask[base + j] > V(0.0));
#else
        let g = DY[base + j];
#endif
        a += total(g);
        b += total(g * ((x - m) * invstd));
#elif ${SQDEV}
        let d = x - m;
        a += total(d * d);
#else
        a += total(x);
#endif
      }
    }
  }
  s1[lane] = a;
#if ${BWD}
  s2[lane] = b;
#endif
  workgroupBarrier();
  for (var half = ${WG}u / 2u; half > 0u; half /= 2u) {
    if (lane < half) {
      s1[lane] += s1[lane + half];
#if ${BWD}
      s2[lane] += s2[lane + half];
#endif
    }
    workgroupBarrier();
  }
  if (lane == 0u && slice < p.slices) {
#if ${BWD}
    P[slice * 2u * p.c + c] = s1[0];
    P[slice * 2u * p.c + p.c + c] = s2[0];
#else
    P[slice * p.c + c] = s1[0];
#endif
  }
}
