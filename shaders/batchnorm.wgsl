// Batch norm 2-D over NCHW (per channel c of C, HW positions per plane), elementwise passes; the
// per-channel statistics come from channel-reduce.wgsl + fold-slices.wgsl.
// Forward (BWD false):  Y = act((X - Mean[c]) * inverseSqrt(Var[c] + eps) * Gamma[c] + Beta[c] [+ Res]),
//   with RESIDUAL adding a same-shaped tensor before the activation (the end of a ResNet block in one pass).
//   Training passes the batch mean and biased variance; with UPDATE, invocations e < C also update the
//   running statistics in place, as PyTorch: rm = (1 - momentum) rm + momentum mean,
//   rv = (1 - momentum) rv + momentum var * count / (count - 1) (unbiased). Eval passes the running stats.
// Mean[c] and Var[varOffset + c] may be one packed [2, C] statistics buffer bound twice (training) or the
// running mean and variance (eval, varOffset 0).
// Backward (BWD true), training mode, from the packed Stats = [mean, biased var] of the forward pass, with
// xhat = (X - mean) * invstd and the per-channel SumDy = sum dy (= dbeta), SumDyXhat = sum dy xhat (= dgamma):
//   DX = Gamma * invstd * (DY - SumDy / count - xhat * SumDyXhat / count),
//   with MASK, DY replaced by DY * (Mask > 0) throughout (a ReLU after the batch norm).
// VEC4 (HW % 4 == 0) processes four elements of one plane per step. QUAD (HW % 4 != 0, HW >= 4, a total
// that 4 divides: 7x7 planes) processes four consecutive scalars per step, which span at most two planes:
// one division per four elements instead of one per element (llvmpipe divides lane by lane, and that
// division was most of the scalar path's cost). C and HW are compile-time constants for the same reason:
// a division by a constant is a multiply and a shift. Grid-stride loop; `total` counts steps.

// Params: the uniforms declared in src/ops/norm/batchnorm.ts.
#include params

const C = ${C}u;
const HW = ${HW}u;

#if ${VEC4}
alias V = vec4f;
const PER = 4u;
#else
alias V = f32;
const PER = 1u;
#endif

#if ${BWD}
@group(0) @binding(0) var<storage, read> X: array<V>;
@group(0) @binding(1) var<storage, read> DY: array<V>;
@group(0) @binding(2) var<storage, read> Stats: array<f32>;
@group(0) @binding(3) var<storage, read> Gamma: array<f32>;
@group(0) @binding(4) var<storage, read> SumDy: array<f32>;
@group(0) @binding(5) var<storage, read> SumDyXhat: array<f32>;
@group(0) @binding(6) var<storage, read_write> DX: array<V>;
#if ${MASK}
@group(0) @binding(7) var<storage, read> Mask: array<V>;
#endif
@group(0) @binding(${BIND_P}) var<uniform> p: Params;
#else
@group(0) @binding(0) var<storage, read> X: array<V>;
@group(0) @binding(1) var<storage, read> Mean: array<f32>;
@group(0) @binding(2) var<storage, read> Var: array<f32>;
@group(0) @binding(3) var<storage, read> Gamma: array<f32>;
@group(0) @binding(4) var<storage, read> Beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> Y: array<V>;
#if ${UPDATE}
@group(0) @binding(6) var<storage, read_write> RunMean: array<f32>;
@group(0) @binding(7) var<storage, read_write> RunVar: array<f32>;
#endif
#if ${RESIDUAL}
@group(0) @binding(${BIND_RES}) var<storage, read> Res: array<V>;
#endif
@group(0) @binding(${BIND_P}) var<uniform> p: Params;
#endif

// One element (one vec4 with VEC4) at index i, of channel c.
fn element(i: u32, c: u32) {
  let x = X[i];
#if ${BWD}
  let invstd = inverseSqrt(Stats[C + c] + p.eps);
  let inv = 1.0 / p.count;
  let xhat = (x - Stats[c]) * invstd;
  let g = Gamma[c] * invstd;
#if ${MASK}
  let dy = select(V(0.0), DY[i], Mask[i] > V(0.0));
#else
  let dy = DY[i];
#endif
  DX[i] = g * (dy - SumDy[c] * inv - xhat * (SumDyXhat[c] * inv));
#else
  let scale = Gamma[c] * inverseSqrt(Var[p.varOffset + c] + p.eps);
#if ${RESIDUAL}
  let v = (x - Mean[c]) * scale + Beta[c] + Res[i];
#else
  let v = (x - Mean[c]) * scale + Beta[c];
#endif
#if ${RELU}
  Y[i] = max(v, V(0.0));
#else
  Y[i] = v;
#endif
#endif
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = gid.y * groups.x * ${WG}u + gid.x;
#if ${UPDATE}
  if (first < C) {
    let m = p.momentum;
    RunMean[first] = (1.0 - m) * RunMean[first] + m * Mean[first];
    RunVar[first] = (1.0 - m) * RunVar[first] + m * Var[p.varOffset + first] * (p.count / (p.count - 1.0));
  }
#endif
#if ${QUAD}
  for (var q = first; q < p.total; q += p.stride) {
    let e0 = q * 4u;
    let plane = e0 / HW;
    let j0 = e0 - plane * HW;
    let c0 = plane % C;
    let c1 = select(c0 + 1u, 0u, c0 + 1u == C);
    for (var k = 0u; k < 4u; k++) {
      element(e0 + k, select(c0, c1, j0 + k >= HW));
    }
  }
#else
  for (var i = first; i < p.total; i += p.stride) {
    element(i, (i * PER / HW) % C);
  }
#endif
}
