// Numerically stable softmax along the last axis: one workgroup per row; the row's max and the sum of
// exp(x - max) are folded per lane in a fixed order and combined by a tree in workgroup memory.

// Params: the uniforms declared in src/ops/norm/softmax.ts.
#include params

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

#include row-reduce

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let row = wg.y * p.gridX + wg.x;
  // Out-of-range workgroups still take part in the barriers (uniform control flow), then write nothing.
  let base = min(row, p.rows - 1u) * p.cols;
  var m = -0x1.fffffep+127f;
  for (var j = lane; j < p.cols; j += ${WG}u) {
    m = max(m, X[base + j]);
  }
  let rowMax = row_max(m, lane);
  workgroupBarrier();
  var s = 0.0;
  for (var j = lane; j < p.cols; j += ${WG}u) {
    s += exp(X[base + j] - rowMax);
  }
  let inv = 1.0 / row_sum(s, lane);
  if (row < p.rows) {
    for (var j = lane; j < p.cols; j += ${WG}u) {
      Out[base + j] = exp(X[base + j] - rowMax) * inv;
    }
  }
}
