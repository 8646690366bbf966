// ReLU backward: DX = DY where Y > 0, else 0. Y may be the ReLU's output or its input (both are positive
// at the same places). At exactly 0 the gradient is 0, as PyTorch's threshold_backward.

// Params: the uniforms declared in src/ops/conv/shortcut.ts.
#include params

@group(0) @binding(0) var<storage, read> DY: array<f32>;
@group(0) @binding(1) var<storage, read> Y: array<f32>;
@group(0) @binding(2) var<storage, read_write> DX: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.y * groups.x * ${WG}u + gid.x; i < p.n; i += p.step) {
    DX[i] = select(0.0, DY[i], Y[i] > 0.0);
  }
}
