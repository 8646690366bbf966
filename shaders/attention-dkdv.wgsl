// Attention backward for keys and values (see attention.wgsl for layouts and conventions). A workgroup owns
// BKV = LANES * KI key rows of one (b, kv head); lane l owns keys k0 + ki * LANES + l and keeps k, v and
// the dk, dv accumulators in registers. It walks the query heads of its group (h = hk * group + g, g in
// order) and, for each, query blocks of BQ = LANES * QJ rows from the first query that sees k0 (causal)
// to the end, in order, recomputing
//   P^T = exp2(k . q * scale * log2 e - lse * log2 e),  dP^T = v . dO,  dS^T = P^T (dP^T - delta),
//   dv += P^T dO,  dk += scale * dS^T q.
// Each dk / dv row has one owner and a fixed summation order (query heads, then query rows): deterministic
// without atomics, and the GQA sum over a kv head's query heads happens in registers.
// Work split: unlike attention.wgsl, lanes own rows (keys) here and the query rows reach them by shuffle;
// on lavapipe (T 512, D 64) this beat the GEMM split of attention.wgsl applied to keys by ~20% (eight vec4
// of q and dO live per slice there spilled). Loops over D run to the uniform p.d4 (not unrolled: compile
// time), so the k / v / dk / dv registers are indexed by a uniform.
#if ${SHUFFLE}
enable subgroups;
#endif

// Params: the uniforms declared in src/ops/llm/attention.ts.
#include params

const LOG2E = 1.4426950408889634;
const BQ = ${LANES}u * ${QJ}u;
const BKV = ${LANES}u * ${KI}u;
const D = ${D}u;
const D4 = ${D4}u;

@group(0) @binding(0) var<storage, read> Q: array<${VT}>;
@group(0) @binding(1) var<storage, read> K: array<${VT}>;
@group(0) @binding(2) var<storage, read> V: array<${VT}>;
@group(0) @binding(3) var<storage, read> dO: array<${VT}>;
@group(0) @binding(4) var<storage, read> Lse: array<f32>;
@group(0) @binding(5) var<storage, read> Delta: array<f32>;
@group(0) @binding(6) var<storage, read_write> dK: array<${VT}>;
@group(0) @binding(7) var<storage, read_write> dV: array<${VT}>;
@group(0) @binding(8) var<uniform> p: Params;

#if ${SHUFFLE}
#else
var<workgroup> tileQ: array<vec4f, BQ * D4>;
var<workgroup> tileO: array<vec4f, BQ * D4>;
#endif

// Loads (shaders/lib/attention-load.wgsl): the loops over D stop at D4, so a column needs no clamp.
fn col4(c4: u32) -> u32 {
  return c4;
}
#include attention-load

fn st_dk(base: u32, d4: u32, v: vec4f) {
#if ${VEC}
  dK[base / 4u + d4] = v;
#else
  for (var c = 0u; c < 4u; c++) {
    if (d4 * 4u + c < D) {
      dK[base + d4 * 4u + c] = v[c];
    }
  }
#endif
}
fn st_dv(base: u32, d4: u32, v: vec4f) {
#if ${VEC}
  dV[base / 4u + d4] = v;
#else
  for (var c = 0u; c < 4u; c++) {
    if (d4 * 4u + c < D) {
      dV[base + d4 * 4u + c] = v[c];
    }
  }
#endif
}

@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let kb = wg.x; // causal: the first key blocks see the most queries and go first
  let hk = wg.y;
  let b = wg.z;
  let kbase = b * p.ksb + hk * p.ksh;
  let k0 = kb * BKV;
  let last = p.t - 1u;

  var kr: array<vec4f, ${KI} * D4>;
  var vr: array<vec4f, ${KI} * D4>;
  var dk: array<vec4f, ${KI} * D4>;
  var dv: array<vec4f, ${KI} * D4>;
  for (var ki = 0u; ki < ${KI}u; ki++) {
    let key = min(k0 + ki * ${LANES}u + lane, last);
    for (var d4 = 0u; d4 < p.d4; d4++) {
      kr[ki * D4 + d4] = ld_k(kbase + key * p.kst, d4) * p.scale2;
      vr[ki * D4 + d4] = ld_v(kbase + key * p.kst, d4);
    }
  }

  let qStart = select(0u, k0, p.causal != 0u);
  for (var g = 0u; g < p.group; g++) {
    let h = hk * p.group + g;
    let qbase = b * p.qsb + h * p.qsh;
    let lbase = (b * p.hq + h) * p.t;
    for (var q0 = qStart; q0 < p.t; q0 += BQ) {
#if ${SHUFFLE}
#else
      workgroupBarrier();
      for (var qj = 0u; qj < ${QJ}u; qj++) {
        let i = qj * ${LANES}u + lane;
        let row = min(q0 + i, last);
        for (var d4 = 0u; d4 < p.d4; d4++) {
          tileQ[i * D4 + d4] = ld_q(qbase + row * p.qst, d4);
          tileO[i * D4 + d4] = ld_do(qbase + row * p.qst, d4);
        }
      }
      workgroupBarrier();
#endif
      // s: scores (exp2 domain), then P; dp: dP, then dS. [KI keys x BQ queries]
      // Explicit initialisers: Dawn + lavapipe left a loop-local `var` without one holding the previous
      // iteration's values instead of zero.
      var s = array<f32, ${KI} * BQ>();
      var dp = array<f32, ${KI} * BQ>();
      for (var d4 = 0u; d4 < p.d4; d4++) {
#if ${SHUFFLE}
        var ql: array<vec4f, ${QJ}>;
        var ol: array<vec4f, ${QJ}>;
        for (var qj = 0u; qj < ${QJ}u; qj++) {
          let row = min(q0 + qj * ${LANES}u + lane, last);
          ql[qj] = ld_q(qbase + row * p.qst, d4);
          ol[qj] = ld_do(qbase + row * p.qst, d4);
        }
#endif
        for (var i = 0u; i < BQ; i++) {
#if ${SHUFFLE}
          let qv = subgroupShuffle(ql[i / ${LANES}u], i % ${LANES}u);
          let ov = subgroupShuffle(ol[i / ${LANES}u], i % ${LANES}u);
#else
          let qv = tileQ[i * D4 + d4];
          let ov = tileO[i * D4 + d4];
#endif
          for (var ki = 0u; ki < ${KI}u; ki++) {
            s[ki * BQ + i] += dot(kr[ki * D4 + d4], qv);
            dp[ki * BQ + i] += dot(vr[ki * D4 + d4], ov);
          }
        }
      }
      for (var i = 0u; i < BQ; i++) {
        let query = q0 + i;
        let qc = min(query, last);
        let l2 = Lse[lbase + qc] * LOG2E;
        let dl = Delta[lbase + qc];
        for (var ki = 0u; ki < ${KI}u; ki++) {
          let key = k0 + ki * ${LANES}u + lane;
          let ok = query < p.t && (p.causal == 0u || key <= query);
          let pr = select(0.0, exp2(s[ki * BQ + i] - l2), ok);
          s[ki * BQ + i] = pr;
          dp[ki * BQ + i] = pr * (dp[ki * BQ + i] - dl);
        }
      }
      // dv += P^T dO, dk += dS^T q: four queries per accumulator store.
      for (var d4 = 0u; d4 < p.d4; d4++) {
#if ${SHUFFLE}
        var ql: array<vec4f, ${QJ}>;
        var ol: array<vec4f, ${QJ}>;
        for (var qj = 0u; qj < ${QJ}u; qj++) {
          let row = min(q0 + qj * ${LANES}u + lane, last);
          ql[qj] = ld_q(qbase + row * p.qst, d4);
          ol[qj] = ld_do(qbase + row * p.qst, d4);
        }
#endif
        for (var i = 0u; i < BQ; i += 4u) {
#if ${SHUFFLE}
          let q0v = subgroupShuffle(ql[i / ${LANES}u], i % ${LANES}u);
          let q1v = subgroupShuffle(ql[i / ${LANES}u], (i + 1u) % ${LANES}u);
          let q2v = subgroupShuffle(ql[i / ${LANES}u], (i + 2u) % ${LANES}u);
          let q3v = subgroupShuffle(ql[i / ${LANES}u], (i + 3u) % ${LANES}u);
          let o0v = subgroupShuffle(ol[i / ${LANES}u], i % ${LANES}u);
          let o1v = subgroupShuffle(ol[i / ${LANES}u], (i + 1u) % ${LANES}u);
          let o2v = subgroupShuffle(ol[i / ${LANES}u], (i + 2u) % ${LANES}u);
          let o3v = subgroupShuffle(ol[i / ${LANES}u], (i + 3u) % ${LANES}u);
#else
          let q0v = tileQ[i * D4 + d4];
          let q1v = tileQ[(i + 1u) * D4 + d4];
          let q2v = tileQ[(i + 2u) * D4 + d4];
          let q3v = tileQ[(i + 3u) * D4 + d4];
          let o0v = tileO[i * D4 + d4];
          let o1v = tileO[(i + 1u) * D4 + d4];
          let o2v = tileO[(i + 2u) * D4 + d4];
          let o3v = tileO[(i + 3u) * D4 + d4];
#endif
          for (var ki = 0u; ki < ${KI}u; ki++) {
            let w = ki * BQ + i;
            dv[ki * D4 + d4] = fma(vec4f(s[w + 3u]), o3v, fma(vec4f(s[w + 2u]), o2v,
                               fma(vec4f(s[w + 1u]), o1v, fma(vec4f(s[w]), o0v, dv[ki * D4 + d4]))));
            dk[ki * D4 + d4] = fma(vec4f(dp[w + 3u]), q3v, fma(vec4f(dp[w + 2u]), q2v,
                               fma(vec4f(dp[w + 1u]), q1v, fma(vec4f(dp[w]), q0v, dk[ki * D4 + d4]))));
          }
        }
      }
    }
  }

  for (var ki = 0u; ki < ${KI}u; ki++) {
    let key = k0 + ki * ${LANES}u + lane;
    if (key < p.t) {
      for (var d4 = 0u; d4 < p.d4; d4++) {
        st_dk(kbase + key * p.kst, d4, dk[ki * D4 + d4] * p.scale);
        st_dv(kbase + key * p.kst, d4, dv[ki * D4 + d4]);
      }
    }
  }
}
