// Causal (or full) self-attention with grouped-query heads, flash-attention style: the T x T score matrix
// is never stored; each query row keeps a running max and sum while key blocks stream past.
// MODE_FWD: out = softmax(q k^T * scale + mask) v and the natural log-sum-exp per row (lse [B, Hq, T]).
// MODE_DQ:  dq = scale * sum_j dS_ij k_j, with P recomputed from the saved lse, dP = dO v^T and
//           dS = P (dP - delta), delta = rowsum(dO * out) (attention-delta.wgsl).
// (dk and dv: attention-dkdv.wgsl, which owns key rows instead.)
//
// Tensors are logical [B, H, T, D] with element (b, h, t, d) at b*sb + h*sh + t*st + d; the strides are
// uniforms, so [B, T, H, D] (what a projection writes) and [B, H, T, D] both work. Query head h reads kv
// head h / group.
//
// Work split, the GEMM's (shaders/gemm.wgsl): a workgroup is LANES invocations (one subgroup) and owns
// BQ = G * LANES query rows of one (b, h). Key blocks are BK = 4 * LANES keys, lane l owning keys
// k0 + 4l .. 4l + 3, so a lane's scores for row i are one vec4 s[i].
//   scores:  for each 4-wide slice of D, lane l loads query rows g * LANES + l (G loads) and its 4 key
//            rows; query slices reach every lane by subgroupShuffle, and each one feeds 16 FMAs.
//   softmax: row max and sum across the block by subgroupMax / subgroupAdd; m, l per row (same in all
//            lanes); the accumulator is rescaled by exp2(m_old - m_new).
//   P V:     lane l owns output columns 4 (l + tn * LANES) .. + 3 (TN vec4 per row); one column group at
//            a time, for each source lane's 4 keys it loads those 4 rows of v at its columns and each
//            row's probabilities arrive by one shuffle of a vec4, feeding 16 FMAs. (Column groups outside
//            the source-lane loop keep 4 vec4 of v live, what AVX2's 16 registers hold; all TN at once
//            spilled and ran 2x slower. dq computes dP in a pass of its own for the same reason.)
// On lavapipe every storage read is a per-lane scalar gather and every store to a local array goes through
// the execution mask, so what counts is FMAs per load, per shuffle and per accumulator store; loops over
// rows and columns have constant bounds (unrolled, registers indexed by constants) and the loops over D
// and key blocks do not (compile time stays around a second; unrolling D took 10-80 s on lavapipe).
// Without SHUFFLE (no fixed subgroup size) the same exchanges go through workgroup memory with barriers.
// Scores live in the exp2 domain: q is pre-scaled by scale * log2(e).
#if ${SHUFFLE}
enable subgroups;
#endif

// Params: the uniforms declared in src/ops/llm/attention.ts.
#include params

const LOWEST = -0x1.fffffep+127f;
const LN2 = 0.69314718055994531;
const LOG2E = 1.4426950408889634;
const LANES = ${LANES}u;
const BQ = ${LANES}u * ${G}u;
const BK = 4u * ${LANES}u;
const D = ${D}u;
const D4 = ${D4}u;

@group(0) @binding(0) var<storage, read> Q: array<${VT}>;
@group(0) @binding(1) var<storage, read> K: array<${VT}>;
@group(0) @binding(2) var<storage, read> V: array<${VT}>;
#if ${MODE_FWD}
@group(0) @binding(3) var<storage, read_write> O: array<${VT}>;
@group(0) @binding(4) var<storage, read_write> Lse: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
#else
@group(0) @binding(3) var<storage, read> dO: array<${VT}>;
@group(0) @binding(4) var<storage, read> Lse: array<f32>;
@group(0) @binding(5) var<storage, read> Delta: array<f32>;
@group(0) @binding(6) var<storage, read_write> dQ: array<${VT}>;
@group(0) @binding(7) var<uniform> p: Params;
#endif

#if ${SHUFFLE}
#else
var<workgroup> xq: array<vec4f, BQ>;
var<workgroup> xo: array<vec4f, BQ>;
var<workgroup> xs: array<vec4f, BQ * LANES>;
var<workgroup> xr: array<f32, BQ * LANES>;
#endif

// Loads: the clamped column of row `base` (shaders/lib/attention-load.wgsl).
fn col4(c4: u32) -> u32 {
  return min(c4, D4 - 1u);
}
#include attention-load

// Output row `base`, columns 4 c4 .. (c4 < D4).
fn st_out(base: u32, c4: u32, v: vec4f) {
#if ${VEC}
#if ${MODE_FWD}
  O[base / 4u + c4] = v;
#else
  dQ[base / 4u + c4] = v;
#endif
#else
  for (var c = 0u; c < 4u; c++) {
    if (c4 * 4u + c < D) {
#if ${MODE_FWD}
      O[base + c4 * 4u + c] = v[c];
#else
      dQ[base + c4 * 4u + c] = v[c];
#endif
    }
  }
#endif
}

// v[i] = the max (lanes_max) or sum (lanes_sum) of v[i] over the lanes, for every row i.
#if ${SHUFFLE}
fn lanes_max(v: ptr<function, array<f32, BQ>>, lane: u32) {
  for (var i = 0u; i < BQ; i++) {
    (*v)[i] = subgroupMax((*v)[i]);
  }
}
fn lanes_sum(v: ptr<function, array<f32, BQ>>, lane: u32) {
  for (var i = 0u; i < BQ; i++) {
    (*v)[i] = subgroupAdd((*v)[i]);
  }
}
#else
fn lanes_fold(v: ptr<function, array<f32, BQ>>, lane: u32, is_max: bool) {
  workgroupBarrier();
  for (var i = 0u; i < BQ; i++) {
    xr[i * LANES + lane] = (*v)[i];
  }
  workgroupBarrier();
  for (var i = 0u; i < BQ; i++) {
    var r = xr[i * LANES];
    for (var t = 1u; t < p.lanes; t++) {
      r = select(r + xr[i * LANES + t], max(r, xr[i * LANES + t]), is_max);
    }
    (*v)[i] = r;
  }
}
fn lanes_max(v: ptr<function, array<f32, BQ>>, lane: u32) {
  lanes_fold(v, lane, true);
}
fn lanes_sum(v: ptr<function, array<f32, BQ>>, lane: u32) {
  lanes_fold(v, lane, false);
}
#endif

@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let qb = p.blocks - 1u - wg.x; // causal: the longest rows first
  let h = wg.y;
  let b = wg.z;
  let hk = h / p.group;
  let qbase = b * p.qsb + h * p.qsh;
  let kbase = b * p.ksb + hk * p.ksh;
  let lbase = (b * p.hq + h) * p.t;
  let q0 = qb * BQ;
  let last = p.t - 1u;

  var acc: array<array<vec4f, ${TN}>, BQ>; // forward: unnormalised output; dq: dq / scale
#if ${MODE_FWD}
  var m: array<f32, BQ>;
  var l: array<f32, BQ>;
  for (var i = 0u; i < BQ; i++) {
    m[i] = LOWEST;
  }
#else
  var lse2: array<f32, BQ>;
  var delta: array<f32, BQ>;
  for (var i = 0u; i < BQ; i++) {
    let row = min(q0 + i, last);
    lse2[i] = Lse[lbase + row] * LOG2E;
    delta[i] = Delta[lbase + row];
  }
#endif

  let kEnd = select(p.t, min(p.t, q0 + BQ), p.causal != 0u);
  for (var k0 = 0u; k0 < kEnd; k0 += BK) {
    let mykey = k0 + 4u * lane;
    // s[i]: scores of row q0 + i with my 4 keys (dq: dp[i] = dO v^T likewise).
    // Explicit initialisers: Dawn + lavapipe left a loop-local `var` without one holding the previous
    // iteration's values instead of zero.
    var s = array<vec4f, BQ>();
#if ${MODE_DQ}
    var dp = array<vec4f, BQ>();
#endif
    for (var d4 = 0u; d4 < p.d4; d4++) {
      var mq: array<vec4f, ${G}>;
#if ${MODE_DQ}
      var mo: array<vec4f, ${G}>;
#endif
      for (var g = 0u; g < ${G}u; g++) {
        let row = min(q0 + g * LANES + lane, last);
        mq[g] = ld_q(qbase + row * p.qst, d4) * p.scale2;
#if ${MODE_DQ}
        mo[g] = ld_do(qbase + row * p.qst, d4);
#endif
      }
      let c0 = ld_k(kbase + min(mykey, last) * p.kst, d4);
      let c1 = ld_k(kbase + min(mykey + 1u, last) * p.kst, d4);
      let c2 = ld_k(kbase + min(mykey + 2u, last) * p.kst, d4);
      let c3 = ld_k(kbase + min(mykey + 3u, last) * p.kst, d4);
      // b_j: dimension 4 d4 + j of my four keys.
      let b0 = vec4f(c0.x, c1.x, c2.x, c3.x);
      let b1 = vec4f(c0.y, c1.y, c2.y, c3.y);
      let b2 = vec4f(c0.z, c1.z, c2.z, c3.z);
      let b3 = vec4f(c0.w, c1.w, c2.w, c3.w);
#if ${SHUFFLE}
#else
      workgroupBarrier();
      for (var g = 0u; g < ${G}u; g++) {
        xq[g * LANES + lane] = mq[g];
#if ${MODE_DQ}
        xo[g * LANES + lane] = mo[g];
#endif
      }
      workgroupBarrier();
#endif
      for (var i = 0u; i < BQ; i++) {
#if ${SHUFFLE}
        let a = subgroupShuffle(mq[i / LANES], i % LANES);
#else
        let a = xq[i];
#endif
        s[i] = fma(vec4f(a.w), b3, fma(vec4f(a.z), b2, fma(vec4f(a.y), b1, fma(vec4f(a.x), b0, s[i]))));
      }
#if ${MODE_DQ}
      // dP in its own pass: four vec4 of v live at a time, not eight (16 AVX2 registers).
      let e0v = ld_v(kbase + min(mykey, last) * p.kst, d4);
      let e1v = ld_v(kbase + min(mykey + 1u, last) * p.kst, d4);
      let e2v = ld_v(kbase + min(mykey + 2u, last) * p.kst, d4);
      let e3v = ld_v(kbase + min(mykey + 3u, last) * p.kst, d4);
      let e0 = vec4f(e0v.x, e1v.x, e2v.x, e3v.x);
      let e1 = vec4f(e0v.y, e1v.y, e2v.y, e3v.y);
      let e2 = vec4f(e0v.z, e1v.z, e2v.z, e3v.z);
      let e3 = vec4f(e0v.w, e1v.w, e2v.w, e3v.w);
      for (var i = 0u; i < BQ; i++) {
#if ${SHUFFLE}
        let o = subgroupShuffle(mo[i / LANES], i % LANES);
#else
        let o = xo[i];
#endif
        dp[i] = fma(vec4f(o.w), e3, fma(vec4f(o.z), e2, fma(vec4f(o.y), e1, fma(vec4f(o.x), e0, dp[i]))));
      }
#endif
    }

    let keys = vec4u(mykey) + vec4u(0u, 1u, 2u, 3u);
#if ${MODE_FWD}
    var rmax: array<f32, BQ>;
    for (var i = 0u; i < BQ; i++) {
      let ok = (keys < vec4u(p.t)) & ((vec4u(p.causal) == vec4u(0u)) | (keys <= vec4u(q0 + i)));
      let sv = select(vec4f(LOWEST), s[i], ok);
      s[i] = sv;
      rmax[i] = max(max(sv.x, sv.y), max(sv.z, sv.w));
    }
    lanes_max(&rmax, lane);
    var rsum: array<f32, BQ>;
    var corr: array<f32, BQ>;
    for (var i = 0u; i < BQ; i++) {
      let mx = max(m[i], rmax[i]);
      let e = exp2(s[i] - vec4f(mx));
      s[i] = e;
      rsum[i] = (e.x + e.y) + (e.z + e.w);
      corr[i] = exp2(m[i] - mx);
      m[i] = mx;
    }
    lanes_sum(&rsum, lane);
    for (var i = 0u; i < BQ; i++) {
      l[i] = l[i] * corr[i] + rsum[i];
      for (var tn = 0u; tn < ${TN}u; tn++) {
        acc[i][tn] *= corr[i];
      }
    }
#else
    for (var i = 0u; i < BQ; i++) {
      let ok = (keys < vec4u(p.t)) & ((vec4u(p.causal) == vec4u(0u)) | (keys <= vec4u(q0 + i)));
      let pr = select(vec4f(0.0), exp2(s[i] - vec4f(lse2[i])), ok);
      s[i] = pr * (dp[i] - vec4f(delta[i]));
    }
#endif

#if ${SHUFFLE}
#else
    workgroupBarrier();
    for (var i = 0u; i < BQ; i++) {
      xs[i * LANES + lane] = s[i];
    }
    workgroupBarrier();
#endif
    // forward: acc += P v; dq: acc += dS k. Source lane sl holds keys k0 + 4 sl .. + 3. One column group
    // at a time keeps four vec4 of v live (16 AVX2 registers) instead of 4 TN.
    for (var tn = 0u; tn < ${TN}u; tn++) {
      let c4 = lane + tn * LANES;
#if ${SHUFFLE}
      for (var sl = 0u; sl < LANES; sl++) {
#else
      for (var sl = 0u; sl < p.lanes; sl++) {
#endif
        let kr = k0 + 4u * sl;
#if ${MODE_FWD}
        let r0 = ld_v(kbase + min(kr, last) * p.kst, c4);
        let r1 = ld_v(kbase + min(kr + 1u, last) * p.kst, c4);
        let r2 = ld_v(kbase + min(kr + 2u, last) * p.kst, c4);
        let r3 = ld_v(kbase + min(kr + 3u, last) * p.kst, c4);
#else
        let r0 = ld_k(kbase + min(kr, last) * p.kst, c4);
        let r1 = ld_k(kbase + min(kr + 1u, last) * p.kst, c4);
        let r2 = ld_k(kbase + min(kr + 2u, last) * p.kst, c4);
        let r3 = ld_k(kbase + min(kr + 3u, last) * p.kst, c4);
#endif
        for (var i = 0u; i < BQ; i++) {
#if ${SHUFFLE}
          let w = subgroupShuffle(s[i], sl);
#else
          let w = xs[i * LANES + sl];
#endif
          acc[i][tn] = fma(vec4f(w.w), r3, fma(vec4f(w.z), r2, fma(vec4f(w.y), r1, fma(vec4f(w.x), r0, acc[i][tn]))));
        }
      }
    }
  }

  for (var i = 0u; i < BQ; i++) {
    let row = q0 + i;
    if (row < p.t) {
#if ${MODE_FWD}
      let inv = 1.0 / l[i];
#else
      let inv = p.scale;
#endif
      for (var tn = 0u; tn < ${TN}u; tn++) {
        let c4 = lane + tn * LANES;
        if (c4 < D4) {
          st_out(qbase + row * p.qst, c4, acc[i][tn] * inv);
        }
      }
#if ${MODE_FWD}
      if (lane == 0u) {
        Lse[lbase + row] = (m[i] + log2(l[i])) * LN2;
      }
#endif
    }
  }
}
