// RMSNorm as Hugging Face's LlamaRMSNorm, in f32: y = weight * (x * r), r = 1 / sqrt(mean(x^2) + eps),
// over rows of `hidden` values. MODE 0 forward (also saves r per row), MODE 1 dx, MODE 2 dweight partials.
// Forward and dx: one workgroup per row, lanes striding the row, a tree in workgroup memory for the row
// sum (fixed order). With xhat = x r and g = dy weight:
//   dx = r (g - xhat mean(g xhat)),   dweight[c] = sum over rows of dy[., c] xhat[., c].
// dweight partials: invocation (chunk, c) sums `chunk` rows in order; the caller folds the chunks with
// the deterministic reduce.

// Params: the uniforms declared in src/ops/norm/rmsnorm.ts.
#include params

@group(0) @binding(0) var<storage, read> X: array<f32>;
#if ${MODE_FORWARD}
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<storage, read_write> R: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
#elif ${MODE_DX}
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read> R: array<f32>;
@group(0) @binding(3) var<storage, read> dY: array<f32>;
@group(0) @binding(4) var<storage, read_write> dX: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
#else
@group(0) @binding(1) var<storage, read> R: array<f32>;
@group(0) @binding(2) var<storage, read> dY: array<f32>;
@group(0) @binding(3) var<storage, read_write> Part: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
#endif

#if ${MODE_DW}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let id = (wg.y * p.gridX + wg.x) * ${WG}u + lane;
  let c = id % p.hidden;
  let chunk = id / p.hidden;
  if (chunk >= p.chunks) {
    return;
  }
  let r0 = chunk * p.chunk;
  let r1 = min(p.rows, r0 + p.chunk);
  var acc = 0.0;
  for (var r = r0; r < r1; r++) {
    let at = r * p.hidden + c;
    acc += dY[at] * (X[at] * R[r]);
  }
  Part[chunk * p.hidden + c] = acc;
}
#else
#include row-reduce

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let row = wg.y * p.gridX + wg.x;
  // Out-of-range workgroups take part in the barriers (uniform control flow) and write nothing.
  let base = min(row, p.rows - 1u) * p.hidden;
  let valid = row < p.rows;
#if ${MODE_FORWARD}
  var ss = 0.0;
  for (var c = lane; c < p.hidden; c += ${WG}u) {
    let v = X[base + c];
    ss = fma(v, v, ss);
  }
  let r = 1.0 / sqrt(row_sum(ss, lane) / f32(p.hidden) + p.eps);
  if (valid) {
    for (var c = lane; c < p.hidden; c += ${WG}u) {
      Y[base + c] = W[c] * (X[base + c] * r);
    }
    if (lane == 0u) {
      R[row] = r;
    }
  }
#else
  let r = R[min(row, p.rows - 1u)];
  var s = 0.0;
  for (var c = lane; c < p.hidden; c += ${WG}u) {
    s = fma(dY[base + c] * W[c], X[base + c] * r, s);
  }
  let m = row_sum(s, lane) / f32(p.hidden);
  if (valid) {
    for (var c = lane; c < p.hidden; c += ${WG}u) {
      let xhat = X[base + c] * r;
      dX[base + c] = r * (dY[base + c] * W[c] - xhat * m);
    }
  }
#endif
}
#endif
