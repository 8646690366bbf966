// delta[b, h, t] = sum_d dO[b, h, t, d] * out[b, h, t, d]: the row term of the softmax backward
// (dS = P (dP - delta)), one invocation per row, d in order. Layout as in attention.wgsl.

// Params: the uniforms declared in src/ops/llm/attention.ts.
#include params

@group(0) @binding(0) var<storage, read> dO: array<f32>;
@group(0) @binding(1) var<storage, read> O: array<f32>;
@group(0) @binding(2) var<storage, read_write> Delta: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let row = (wg.y * p.gridX + wg.x) * ${WG}u + lane;
  if (row >= p.rows) {
    return;
  }
  let t = row % p.t;
  let bh = row / p.t;
  let h = bh % p.hq;
  let b = bh / p.hq;
  let base = b * p.sb + h * p.sh + t * p.st;
  var acc = 0.0;
  for (var d = 0u; d < p.d; d++) {
    acc = fma(dO[base + d], O[base + d], acc);
  }
  Delta[row] = acc;
}
