// out = x with its axes permuted: out[i] = x[sum_d coord_d(i) * inStride[perm[d]]], rank <= 8, for any
// element size that fits a u32 word (f32, i32, u32).

// Params: the uniforms declared in src/ops/linalg/transpose.ts.
#include params

@group(0) @binding(0) var<storage, read> X: array<u32>;
@group(0) @binding(1) var<storage, read_write> Out: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

fn dim(v: array<vec4u, 2>, i: u32) -> u32 {
  return v[i / 4u][i % 4u];
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.y * groups.x * ${WG}u + gid.x; i < p.n; i += p.stride) {
    var rest = i;
    var src = 0u;
    for (var d = i32(p.rank) - 1; d >= 0; d--) {
      let size = dim(p.shape, u32(d));
      src += (rest % size) * dim(p.srcStride, u32(d));
      rest = rest / size;
    }
    Out[i] = X[src];
  }
}
