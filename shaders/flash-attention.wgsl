// Flash attention forward for discrete GPUs (FlashAttention-2's loop order): out = softmax(q kᵀ scale +
// mask) v and the natural log-sum-exp per row, one pass over K and V, no T x T matrix. (attention.wgsl is
// the lavapipe-tuned kernel without workgroup memory; src/ops/llm/attention.ts chooses.)
// A workgroup of WG invocations owns BQ query rows of one (b, h); query head h reads kv head h / group.
// For each block of BK keys:
//   1. the block's K rows are staged in workgroup memory (KV, rows padded to D4 + 1 vec4 so invocations
//      reading different rows hit different banks);
//   2. scores: invocation (rg, kg) computes rows 4 rg .. + 3 against keys kg + j KG (j < 4), reading its q
//      rows from global memory (the same rows every block: they stay in L1) and the keys from KV; masked
//      scores become LOWEST; the 4 x 4 tile goes to S (rows padded to BK + 1);
//   3. V replaces K in KV while invocation r < BQ runs row r's online softmax over the block: new max,
//      probabilities written back into S, running sum, and the factor that rescales its output;
//   4. output: invocation (orow, ct) owns rows orow + i ROWG and vec4 columns ct + j CT and adds P V.
// Scores live in the exp2 domain (q scaled by scale * log2 e). Barriers sit in uniform control flow only.

#include params

const LOWEST = -0x1.fffffep+127f;
const LN2 = 0.69314718055994531;
const D = ${D}u;
const D4 = ${D4}u;
const BQ = ${BQ}u;
const BK = ${BK}u;
const WG = ${WG}u;
const KG = ${BK}u / 4u;      // key groups of the score tile (rows groups: BQ / 4)
const CT = ${CT}u;           // column invocations of the output tile
const ROWG = ${WG}u / ${CT}u; // row groups of the output tile
const OR = ${BQ}u / ROWG;    // rows per invocation
const OC = ${OC}u;           // vec4 columns per invocation: ceil(D4 / CT)
const KS = ${D4}u + 1u;      // padded KV row (vec4)
const SS = ${BK}u + 1u;      // padded S row

@group(0) @binding(0) var<storage, read> Q: array<${VT}>;
@group(0) @binding(1) var<storage, read> K: array<${VT}>;
@group(0) @binding(2) var<storage, read> V: array<${VT}>;
@group(0) @binding(3) var<storage, read_write> O: array<${VT}>;
@group(0) @binding(4) var<storage, read_write> Lse: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

var<workgroup> KV: array<vec4f, BK * KS>;
var<workgroup> S: array<f32, BQ * SS>;
var<workgroup> rowMax: array<f32, BQ>;
var<workgroup> rowSum: array<f32, BQ>;
var<workgroup> rowCorr: array<f32, BQ>;

#include flash-load
#include row-store

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
  let qb = p.blocks - 1u - wg.x; // causal: the longest rows first
  let h = wg.y;
  let b = wg.z;
  let qbase = b * p.qsb + h * p.qsh;
  let kbase = b * p.ksb + (h / p.group) * p.ksh;
  let q0 = qb * BQ;
  let last = p.t - 1u;
  let rg = tid / KG;
  let kg = tid % KG;
  let orow = tid / CT;
  let ct = tid % CT;

  if (tid < BQ) {
    rowMax[tid] = LOWEST;
    rowSum[tid] = 0.0;
  }
  var acc: array<array<vec4f, OC>, OR>;
  let kEnd = select(p.t, min(p.t, q0 + BQ), p.causal != 0u);
  for (var k0 = 0u; k0 < kEnd; k0 += BK) {
    workgroupBarrier(); // the previous block's P V is done with KV and S
    for (var s = tid; s < BK * p.d4; s += WG) {
      let key = s / p.d4;
      let c4 = s % p.d4;
      KV[key * KS + c4] = ld_k(kbase + min(k0 + key, last) * p.kst, c4);
    }
    workgroupBarrier();

    // Explicit initialiser: Dawn + lavapipe once kept a loop-local var's previous values (attention.wgsl).
    var sc = array<vec4f, 4>();
    for (var d4 = 0u; d4 < p.d4; d4++) { // a uniform bound: not unrolled (lavapipe compile time)
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
      let v = select(vec4f(LOWEST), sc[i] * p.scale2, ok);
      let at = (4u * rg + i) * SS + kg;
      S[at] = v.x;
      S[at + KG] = v.y;
      S[at + 2u * KG] = v.z;
      S[at + 3u * KG] = v.w;
    }
    workgroupBarrier();

    // V replaces K (nobody reads K any more) while the first BQ invocations run the online softmax.
    for (var s = tid; s < BK * p.d4; s += WG) {
      let key = s / p.d4;
      let c4 = s % p.d4;
      KV[key * KS + c4] = ld_v(kbase + min(k0 + key, last) * p.kst, c4);
    }
    if (tid < BQ) {
      let at = tid * SS;
      var mx = rowMax[tid];
      for (var j = 0u; j < BK; j++) {
        mx = max(mx, S[at + j]);
      }
      var sum = 0.0;
      for (var j = 0u; j < BK; j++) {
        let e = exp2(S[at + j] - mx);
        S[at + j] = e;
        sum += e;
      }
      let corr = exp2(rowMax[tid] - mx);
      rowCorr[tid] = corr;
      rowSum[tid] = rowSum[tid] * corr + sum;
      rowMax[tid] = mx;
    }
    workgroupBarrier();

    for (var i = 0u; i < OR; i++) {
      let r = orow + i * ROWG;
      let corr = rowCorr[r];
      for (var j = 0u; j < OC; j++) {
        acc[i][j] *= corr;
      }
    }
    for (var key = 0u; key < BK; key++) {
      var v = array<vec4f, OC>();
      for (var j = 0u; j < OC; j++) {
        v[j] = KV[key * KS + min(ct + j * CT, D4 - 1u)];
      }
      for (var i = 0u; i < OR; i++) {
        let pr = S[(orow + i * ROWG) * SS + key];
        for (var j = 0u; j < OC; j++) {
          acc[i][j] = fma(vec4f(pr), v[j], acc[i][j]);
        }
      }
    }
  }
  workgroupBarrier();

  for (var i = 0u; i < OR; i++) {
    let r = orow + i * ROWG;
    let row = q0 + r;
    if (row < p.t) {
      let inv = 1.0 / rowSum[r];
      for (var j = 0u; j < OC; j++) {
        let c4 = ct + j * CT;
        if (c4 < D4) {
          st_o(qbase + row * p.qst, c4, acc[i][j] * inv);
        }
      }
    }
  }
  if (tid < BQ && q0 + tid < p.t) {
    Lse[(b * p.hq + h) * p.t + q0 + tid] = (rowMax[tid] + log2(rowSum[tid])) * LN2;
  }
}
