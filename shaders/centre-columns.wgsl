// Column centring of a row-major [rows, cols] matrix: Out[r, c] = X[r, c] - mean_r X[r, c]. One invocation
// owns one column (VEC4: four adjacent columns, cols % 4 == 0) and walks its rows twice in a fixed order,
// so the result is deterministic. A column whose values are all equal subtracts that value itself rather
// than the rounded sum / rows, so a constant column centres to exact zeros (CKA's constant-representation
// check then sees an exact zero, not rounding noise).

// Params: the uniforms declared in src/ops/norm/centre.ts.
#include params

@group(0) @binding(0) var<storage, read> X: array<${VEC}>;
@group(0) @binding(1) var<storage, read_write> Out: array<${VEC}>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let c = (wg.y * p.gridX + wg.x) * ${WG}u + lane;
  if (c >= p.cols) {
    return;
  }
  var s = ${VEC}(0.0);
  var lo = X[c];
  var hi = lo;
  for (var r = 0u; r < p.rows; r++) {
    let v = X[r * p.cols + c];
    s += v;
    lo = min(lo, v);
    hi = max(hi, v);
  }
  let mean = select(s / f32(p.rows), lo, lo == hi);
  for (var r = 0u; r < p.rows; r++) {
    let i = r * p.cols + c;
    Out[i] = X[i] - mean;
  }
}
