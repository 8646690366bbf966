// Flash attention dk and dv for discrete GPUs: a workgroup owns BKV key rows of one (b, kv head) and
// walks every query head of its group and every query block that can see those keys (causal: from the
// block holding key k0 on), in order, so the sums over query heads are deterministic without atomics:
//   dv_j = sum_i P_ij dO_i,   dk_j = scale sum_i dS_ij q_i,
// with P recomputed from the saved log-sum-exp and dS = P (dP - delta) as in flash-attention-dq.wgsl.
// Per query block of BQ rows: q rows are staged in workgroup memory (X), the 4 x 4 tiles of scores
// (invocation (kg, qg): keys 4 kg .. + 3, read from global memory, against rows qg + j QG) give P; dO
// replaces q in X for dP and dV += Pᵀ dO; then q is staged again for dK += dSᵀ q. P and dS take turns in
// PS (rows padded to BQ + 1). Invocation (krow, ct) owns keys krow + i ROWG and vec4 columns ct + j CT of
// both accumulators.

#include params

const LOG2E = 1.4426950408889634;
const D = ${D}u;
const D4 = ${D4}u;
const BKV = ${BKV}u;
const BQ = ${BQ}u;
const WG = ${WG}u;
const QG = ${BQ}u / 4u;
const CT = ${CT}u;
const ROWG = ${WG}u / ${CT}u;
const OR = ${BKV}u / ROWG;
const OC = ${OC}u;
const XS = ${D4}u + 1u;
const PSS = ${BQ}u + 1u;

@group(0) @binding(0) var<storage, read> Q: array<${VT}>;
@group(0) @binding(1) var<storage, read> K: array<${VT}>;
@group(0) @binding(2) var<storage, read> V: array<${VT}>;
@group(0) @binding(3) var<storage, read> dO: array<${VT}>;
@group(0) @binding(4) var<storage, read> Lse: array<f32>;
@group(0) @binding(5) var<storage, read> Delta: array<f32>;
@group(0) @binding(6) var<storage, read_write> dK: array<${VT}>;
@group(0) @binding(7) var<storage, read_write> dV: array<${VT}>;
@group(0) @binding(8) var<uniform> p: Params;

var<workgroup> X: array<vec4f, BQ * XS>;
var<workgroup> PS: array<f32, BKV * PSS>;

#include flash-load
#include row-store

// Stages query rows q0 .. q0 + BQ of q (isQ) or dO into X.
fn stage(tid: u32, qbase: u32, q0: u32, isQ: bool) {
  let last = p.t - 1u;
  for (var s = tid; s < BQ * p.d4; s += WG) {
    let row = s / p.d4;
    let c4 = s % p.d4;
    let base = qbase + min(q0 + row, last) * p.qst;
    if (isQ) {
      X[row * XS + c4] = ld_q(base, c4);
    } else {
      X[row * XS + c4] = ld_do(base, c4);
    }
  }
}

// Writes this invocation's 4 x 4 tile w[i] (key 4 kg + i, rows qg + j QG) into PS.
fn put(kg: u32, qg: u32, w: array<vec4f, 4>) {
  for (var i = 0u; i < 4u; i++) {
    let at = (4u * kg + i) * PSS + qg;
    PS[at] = w[i].x;
    PS[at + QG] = w[i].y;
    PS[at + 2u * QG] = w[i].z;
    PS[at + 3u * QG] = w[i].w;
  }
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let hk = wg.y;
  let b = wg.z;
  let k0 = wg.x * BKV;
  let kbase = b * p.ksb + hk * p.ksh;
  let last = p.t - 1u;
  let kg = tid / QG;
  let qg = tid % QG;
  let krow = tid / CT;
  let ct = tid % CT;
  let keys = vec4u(k0 + 4u * kg) + vec4u(0u, 1u, 2u, 3u);

  var accK: array<array<vec4f, OC>, OR>;
  var accV: array<array<vec4f, OC>, OR>;
  let qStart = select(0u, (k0 / BQ) * BQ, p.causal != 0u);
  for (var g = 0u; g < p.group; g++) {
    let h = hk * p.group + g;
    let qbase = b * p.qsb + h * p.qsh;
    let lbase = (b * p.hq + h) * p.t;
    for (var q0 = qStart; q0 < p.t; q0 += BQ) {
      let rows = vec4u(q0 + qg) + vec4u(0u, QG, 2u * QG, 3u * QG);
      let lse2 = vec4f(Lse[lbase + min(rows.x, last)], Lse[lbase + min(rows.y, last)],
                       Lse[lbase + min(rows.z, last)], Lse[lbase + min(rows.w, last)]) * LOG2E;
      let delta = vec4f(Delta[lbase + min(rows.x, last)], Delta[lbase + min(rows.y, last)],
                        Delta[lbase + min(rows.z, last)], Delta[lbase + min(rows.w, last)]);
      workgroupBarrier();
      stage(tid, qbase, q0, true);
      workgroupBarrier();
      var pr = array<vec4f, 4>();
      for (var d4 = 0u; d4 < p.d4; d4++) {
        let x_0 = X[qg * XS + d4];
        let x_1 = X[(qg + QG) * XS + d4];
        let x_2 = X[(qg + 2u * QG) * XS + d4];
        let x_3 = X[(qg + 3u * QG) * XS + d4];
        for (var i = 0u; i < 4u; i++) {
          let ki = ld_k(kbase + min(keys[i], last) * p.kst, d4);
          pr[i] += vec4f(dot(ki, x_0), dot(ki, x_1), dot(ki, x_2), dot(ki, x_3));
        }
      }
      for (var i = 0u; i < 4u; i++) {
        let ok = (rows < vec4u(p.t)) & ((vec4u(p.causal) == vec4u(0u)) | (vec4u(keys[i]) <= rows));
        pr[i] = select(vec4f(0.0), exp2(pr[i] * p.scale2 - lse2), ok);
      }
      workgroupBarrier();
      stage(tid, qbase, q0, false);
      workgroupBarrier();
      var ds = array<vec4f, 4>();
      for (var d4 = 0u; d4 < p.d4; d4++) {
        let x_0 = X[qg * XS + d4];
        let x_1 = X[(qg + QG) * XS + d4];
        let x_2 = X[(qg + 2u * QG) * XS + d4];
        let x_3 = X[(qg + 3u * QG) * XS + d4];
        for (var i = 0u; i < 4u; i++) {
          let vi = ld_v(kbase + min(keys[i], last) * p.kst, d4);
          ds[i] += vec4f(dot(vi, x_0), dot(vi, x_1), dot(vi, x_2), dot(vi, x_3));
        }
      }
      for (var i = 0u; i < 4u; i++) {
        ds[i] = pr[i] * (ds[i] - delta);
      }
      put(kg, qg, pr);
      workgroupBarrier();
      accumulate(&accV, krow, ct);
      workgroupBarrier();
      put(kg, qg, ds);
      stage(tid, qbase, q0, true);
      workgroupBarrier();
      accumulate(&accK, krow, ct);
    }
  }

  for (var i = 0u; i < OR; i++) {
    let key = k0 + krow + i * ROWG;
    if (key < p.t) {
      for (var j = 0u; j < OC; j++) {
        let c4 = ct + j * CT;
        if (c4 < D4) {
          st_dk(kbase + key * p.kst, c4, accK[i][j] * p.scale);
          st_dv(kbase + key * p.kst, c4, accV[i][j]);
        }
      }
    }
  }
}

// acc[i][j] += sum over the block's rows r of PS[key i][r] X[r][column j].
fn accumulate(acc: ptr<function, array<array<vec4f, OC>, OR>>, krow: u32, ct: u32) {
  for (var r = 0u; r < BQ; r++) {
    var x = array<vec4f, OC>();
    for (var j = 0u; j < OC; j++) {
      x[j] = X[r * XS + min(ct + j * CT, D4 - 1u)];
    }
    for (var i = 0u; i < OR; i++) {
      let w = PS[(krow + i * ROWG) * PSS + r];
      for (var j = 0u; j < OC; j++) {
        (*acc)[i][j] = fma(vec4f(w), x[j], (*acc)[i][j]);
      }
    }
  }
}
