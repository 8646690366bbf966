// Inverted dropout (PyTorch's nn.Dropout in training mode) with a mask recomputed from a hash, so nothing is
// stored between forward and backward: element i is kept when the top 24 bits of
// pcg(pcg(i) ^ pcg(seed ^ pcg(stream))) are >= threshold (= round(p * 2^24)), and a kept element is scaled
// by 1 / (1 - p). The backward pass is the same kernel on dy. pcg: Jarzynski & Olano, "Hash Functions for
// GPU Rendering" (2020). One invocation per element, grid-stride loop.

// Params: the uniforms declared in src/ops/elementwise/dropout.ts.
#include params

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let key = pcg(p.seed ^ pcg(p.stream));
  for (var i = gid.y * groups.x * ${WG}u + gid.x; i < p.n; i += p.step) {
    let keep = (pcg(pcg(i) ^ key) >> 8u) >= p.threshold;
    Out[i] = select(0.0, X[i] * p.scale, keep);
  }
}
