// Second pass of the deterministic slice reductions (conv2d weight gradient, batch-norm statistics):
// Out[offset + e] = scale * sum_{s = 0 .. slices-1} P[s * n + srcOffset + e] for e < count, the slices
// added in slice order.
// No atomics.

// Params: the uniforms declared in src/ops/reduce/fold.ts.
#include params

@group(0) @binding(0) var<storage, read> P: array<f32>;
@group(0) @binding(1) var<storage, read_write> Out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let e = (wg.y * p.gridX + wg.x) * ${WG}u + lane;
  if (e >= p.count) {
    return;
  }
  var s = 0.0;
  for (var k = 0u; k < p.slices; k++) {
    s += P[k * p.n + p.srcOffset + e];
  }
  Out[p.offset + e] = s * p.scale;
}
