// Flash attention dq for discrete GPUs: dq = scale sum_j dS_ij k_j with P recomputed from the saved
// log-sum-exp, dP = dO vᵀ and dS = P (dP - delta) (delta = rowsum(dO out), attention-delta.wgsl). One pass
// over K and V per block of BQ query rows; the tiling is the forward's (flash-attention.wgsl): per key block
// V is staged in workgroup memory for dP, then K for the scores and for dq += dS K; dS goes through S.
// No atomics: dk and dv have their own kernel (flash-attention-dkdv.wgsl), so results are deterministic.

#include params

const LOWEST = -0x1.fffffep+127f;
const LOG2E = 1.4426950408889634;
const D = ${D}u;
const D4 = ${D4}u;
const BQ = ${BQ}u;
const BK = ${BK}u;
const WG = ${WG}u;
const KG = ${BK}u / 4u;
const CT = ${CT}u;
const ROWG = ${WG}u / ${CT}u;
const OR = ${BQ}u / ROWG;
const OC = ${OC}u;
const KS = ${D4}u + 1u;
const SS = ${BK}u + 1u;

@group(0) @binding(0) var<storage, read> Q: array<${VT}>;
@group(0) @binding(1) var<storage, read> K: array<${VT}>;
@group(0) @binding(2) var<storage, read> V: array<${VT}>;
@group(0) @binding(3) var<storage, read> dO: array<${VT}>;
@group(0) @binding(4) var<storage, read> Lse: array<f32>;
@group(0) @binding(5) var<storage, read> Delta: array<f32>;
@group(0) @binding(6) var<storage, read_write> dQ: array<${VT}>;
@group(0) @binding(7) var<uniform> p: Params;

var<workgroup> KV: array<vec4f, BK * KS>;
var<workgroup> S: array<f32, BQ * SS>;

#include flash-load
#include row-store

// Stages keys k0 .. k0 + BK of K (isK) or V into KV.
fn stage(tid: u32, kbase: u32, k0: u32, isK: bool) {
  let last = p.t - 1u;
  for (var s = tid; s < BK * p.d4; s += WG) {
    let key = s / p.d4;
    let c4 = s % p.d4;
    let base = kbase + min(k0 + key, last) * p.kst;
    if (isK) {
      KV[key * KS + c4] = ld_k(base, c4);
    } else {
      KV[key * KS + c4] = ld_v(base, c4);
    }
  }
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let qb = p.blocks - 1u - wg.x;
  let h = wg.y;
  let b = wg.z;
  let qbase = b * p.qsb + h * p.qsh;
  let kbase = b * p.ksb + (h / p.group) * p.ksh;
  let lbase = (b * p.hq + h) * p.t;
  let q0 = qb * BQ;
  let last = p.t - 1u;
  let rg = tid / KG;
  let kg = tid % KG;
  let orow = tid / CT;
  let ct = tid % CT;

  var lse2: array<f32, 4>;
  var delta: array<f32, 4>;
  for (var i = 0u; i < 4u; i++) {
    let row = min(q0 + 4u * rg + i, last);
    lse2[i] = Lse[lbase + row] * LOG2E;
    delta[i] = Delta[lbase + row];
  }
  var acc: array<array<vec4f, OC>, OR>;
  let kEnd = select(p.t, min(p.t, q0 + BQ), p.causal != 0u);
  for (var k0 = 0u; k0 < kEnd; k0 += BK) {
    workgroupBarrier();
    stage(tid, kbase, k0, false);
    workgroupBarrier();
    var dp = array<vec4f, 4>();
    for (var d4 = 0u; d4 < p.d4; d4++) {
      let v_0 = KV[kg * KS + d4];
      let v_1 = KV[(kg + KG) * KS + d4];
      let v_2 = KV[(kg + 2u * KG) * KS + d4];
      let v_3 = KV[(kg + 3u * KG) * KS + d4];
      for (var i = 0u; i < 4u; i++) {
        let oi = ld_do(qbase + min(q0 + 4u * rg + i, last) * p.qst, d4);
        dp[i] += vec4f(dot(oi, v_0), dot(oi, v_1), dot(oi, v_2), dot(oi, v_3));
      }
    }
    workgroupBarrier();
    stage(tid, kbase, k0, true);
    workgroupBarrier();
    var sc = array<vec4f, 4>();
    for (var d4 = 0u; d4 < p.d4; d4++) {
      let k_0 = KV[kg * KS + d4];
      let k_1 = KV[(kg + KG) * KS + d4];
      let k_2 = KV[(kg + 2u * KG) * KS + d4];
      let k_3 = KV[(kg + 3u * KG) * KS + d4];
      for (var i = 0u; i < 4u; i++) {
        let qi = ld_q(qbase + min(q0 + 4u * rg + i, last) * p.qst, d4);
        sc[i] += vec4f(dot(qi, k_0), dot(qi, k_1), dot(qi, k_2), dot(qi, k_3));
      }
    }
    let keys = vec4u(k0 + kg) + vec4u(0u, KG, 2u * KG, 3u * KG);
    for (var i = 0u; i < 4u; i++) {
      let row = q0 + 4u * rg + i;
      let ok = (keys < vec4u(p.t)) & ((vec4u(p.causal) == vec4u(0u)) | (keys <= vec4u(row)));
      let pr = select(vec4f(0.0), exp2(sc[i] * p.scale2 - vec4f(lse2[i])), ok);
      let ds = pr * (dp[i] - vec4f(delta[i]));
      let at = (4u * rg + i) * SS + kg;
      S[at] = ds.x;
      S[at + KG] = ds.y;
      S[at + 2u * KG] = ds.z;
      S[at + 3u * KG] = ds.w;
    }
    workgroupBarrier();
    for (var key = 0u; key < BK; key++) {
      var kv = array<vec4f, OC>();
      for (var j = 0u; j < OC; j++) {
        kv[j] = KV[key * KS + min(ct + j * CT, D4 - 1u)];
      }
      for (var i = 0u; i < OR; i++) {
        let w = S[(orow + i * ROWG) * SS + key];
        for (var j = 0u; j < OC; j++) {
          acc[i][j] = fma(vec4f(w), kv[j], acc[i][j]);
        }
      }
    }
  }

  for (var i = 0u; i < OR; i++) {
    let row = q0 + orow + i * ROWG;
    if (row < p.t) {
      for (var j = 0u; j < OC; j++) {
        let c4 = ct + j * CT;
        if (c4 < D4) {
          st_dq(qbase + row * p.qst, c4, acc[i][j] * p.scale);
        }
      }
    }
  }
}
