// out = OP(a[, b]) over every element, with NumPy broadcasting through per-dimension strides (0 on a
// broadcast dimension). CONTIGUOUS skips the index arithmetic when no operand broadcasts.
// OP is an expression in `a`, `b` and `alpha`, e.g. `a + b`, `activate(a)`, `a * alpha`.

// Params: the uniforms declared in src/ops/elementwise/elementwise.ts.
#include params

@group(0) @binding(0) var<storage, read> A: array<f32>;
#if ${BINARY}
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#else
@group(0) @binding(1) var<storage, read_write> Out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
#endif

fn dim(v: array<vec4u, 2>, i: u32) -> u32 {
  return v[i / 4u][i % 4u];
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  // Grid-stride loop: one dispatch covers any n within the 65535-workgroup limit.
  let first = gid.y * groups.x * ${WG}u + gid.x;
  for (var i = first; i < p.n; i += p.stride) {
#if ${CONTIGUOUS}
    let ia = i;
    let ib = i;
#else
    var rest = i;
    var ia = 0u;
    var ib = 0u;
    for (var d = i32(p.rank) - 1; d >= 0; d--) {
      let size = dim(p.shape, u32(d));
      let c = rest % size;
      rest = rest / size;
      ia += c * dim(p.strideA, u32(d));
      ib += c * dim(p.strideB, u32(d));
    }
#endif
    let a = A[ia];
#if ${BINARY}
    let b = B[ib];
#endif
    let alpha = p.alpha;
    Out[i] = ${OP};
  }
}
