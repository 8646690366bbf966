// Reductions across one workgroup of ${WG} lanes (a power of two) in a fixed order: each lane stores its
// partial, then a tree in workgroup memory halves the active lanes per step; every lane gets scratch[0].
// Call from uniform control flow (the barriers); a caller that stores into scratch again right after
// reading the result needs a workgroupBarrier() first. Included by softmax, rmsnorm, cross-entropy and
// token-ce (`#include row-reduce`).

var<workgroup> scratch: array<f32, ${WG}>;

fn row_max(v: f32, lane: u32) -> f32 {
  scratch[lane] = v;
  workgroupBarrier();
  for (var half = ${WG}u / 2u; half > 0u; half /= 2u) {
    if (lane < half) {
      scratch[lane] = max(scratch[lane], scratch[lane + half]);
    }
    workgroupBarrier();
  }
  return scratch[0];
}

fn row_sum(v: f32, lane: u32) -> f32 {
  scratch[lane] = v;
  workgroupBarrier();
  for (var half = ${WG}u / 2u; half > 0u; half /= 2u) {
    if (lane < half) {
      scratch[lane] = scratch[lane] + scratch[lane + half];
    }
    workgroupBarrier();
  }
  return scratch[0];
}
