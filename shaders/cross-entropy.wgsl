// Softmax cross-entropy with optional label smoothing, one workgroup per row of logits [B, C]:
//   q = (1 - smoothing) onehot(label) + smoothing / C,   Loss[row] = logsumexp(x) - sum_c q_c x_c,
//   GRAD: DLogits[row, c] = (softmax(x)_c - q_c) * gradScale   (gradScale = 1 / B for a batch mean).
// The max and sum of exp are folded per lane in a fixed order, then a tree in workgroup memory. Labels are
// validated on the CPU when uploaded; here an out-of-range label is clamped into [0, C) (never read out of
// bounds, but the loss is then meaningless).

// Params: the uniforms declared in src/ops/norm/cross-entropy.ts.
#include params

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> Loss: array<f32>;
#if ${GRAD}
@group(0) @binding(3) var<storage, read_write> DX: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
#else
@group(0) @binding(3) var<uniform> p: Params;
#endif

#include row-reduce
var<workgroup> scratch2: array<f32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let row = wg.y * p.gridX + wg.x;
  // Out-of-range workgroups still take part in the barriers (uniform control flow), then write nothing.
  let r = min(row, p.rows - 1u);
  let base = r * p.cols;
  var m = -0x1.fffffep+127f;
  for (var j = lane; j < p.cols; j += ${WG}u) {
    m = max(m, X[base + j]);
  }
  let rowMax = row_max(m, lane);
  workgroupBarrier();
  var s = 0.0;
  var sx = 0.0;
  for (var j = lane; j < p.cols; j += ${WG}u) {
    let x = X[base + j];
    s += exp(x - rowMax);
    sx += x;
  }
  scratch[lane] = s;
  scratch2[lane] = sx;
  workgroupBarrier();
  for (var half = ${WG}u / 2u; half > 0u; half /= 2u) {
    if (lane < half) {
      scratch[lane] += scratch[lane + half];
      scratch2[lane] += scratch2[lane + half];
    }
    workgroupBarrier();
  }
  let sumExp = scratch[0];
  let sumX = scratch2[0];
  let label = u32(clamp(Labels[r], 0, i32(p.cols) - 1));
  let onehot = 1.0 - p.smoothing;
  let spread = p.smoothing / f32(p.cols);
  if (row >= p.rows) {
    return;
  }
  if (lane == 0u) {
    let lse = rowMax + log(sumExp);
    Loss[row] = lse - onehot * X[base + label] - spread * sumX;
  }
#if ${GRAD}
  let inv = 1.0 / sumExp;
  for (var j = lane; j < p.cols; j += ${WG}u) {
    let q = select(0.0, onehot, j == label) + spread;
    DX[base + j] = (exp(X[base + j] - rowMax) * inv - q) * p.gradScale;
  }
#endif
}
