// Weight gradient of a 2-D convolution (NCHW), as an implicit GEMM over batch x output positions:
//   dW[co, ci, kh, kw] = sum_{n, oh, ow} dY[n, co, oh, ow] * Xp(n, ci, oh*S - padH + kh, ow*S - padW + kw)
// with Xp the zero-padded input. Deterministic: launch z = slice of the batch ([n0, n0 + nPerSplit)); each
// slice writes its own partial sums, P[slice, co, ci*KH*KW + kh*KW + kw], summed in a fixed order per
// invocation, and fold-slices.wgsl adds the slices in slice order. No atomics.
//
// Each invocation owns one (ci, kh) pair and TM output channels: TM x KW vec4 accumulators (four positions
// each, added in a fixed order at the end). It walks every
// output row of its slice in runs of PW positions: per run it loads the input window those positions
// need ((PW-1)*S + KW values) once and reuses it for all TM channels and KW taps. dY is the same for all
// lanes; with SUBGROUPS the TM channels form groups of SW lanes, each lane loads the dY of one channel per
// group and subgroupShuffle shares it (as in conv2d.wgsl), otherwise every lane loads it.
#if ${SUBGROUPS}
enable subgroups;
#endif

// Params: the uniforms declared in src/ops/conv/conv2d.ts.
#include params

@group(0) @binding(0) var<storage, read> X: array<f32>;
#if ${DY_VEC4}
@group(0) @binding(1) var<storage, read> DY: array<vec4f>;
#else
@group(0) @binding(1) var<storage, read> DY: array<f32>;
#endif
@group(0) @binding(2) var<storage, read_write> Part: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const KH = ${KH}u;
const KW = ${KW}u;
const S = ${STRIDE}u;
const TM = ${TM}u;
const PW = ${PW}u;
const WIN = (${PW}u - 1u) * ${STRIDE}u + ${KW}u;

#include conv-window

// dY[row + ow .. ow + 3] of one channel's output row, zero past the row's end.
fn dy4(row: u32, ow: u32) -> vec4f {
#if ${DY_VEC4}
  return select(vec4f(0.0), DY[(row + min(ow, p.ow - 4u)) / 4u], ow < p.ow);
#else
  let last = p.ow - 1u;
  return vec4f(
    select(0.0, DY[row + min(ow, last)], ow < p.ow),
    select(0.0, DY[row + min(ow + 1u, last)], ow + 1u < p.ow),
    select(0.0, DY[row + min(ow + 2u, last)], ow + 2u < p.ow),
    select(0.0, DY[row + min(ow + 3u, last)], ow + 3u < p.ow));
#endif
}

@compute @workgroup_size(${LANES})
fn main(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(local_invocation_index) lane: u32,
#if ${SUBGROUPS}
  @builtin(subgroup_invocation_id) sgl: u32,
#endif
) {
  // wg.x: block of (ci, kh) rows; wg.y: block of output channels; wg.z: batch slice.
  let r = wg.x * ${LANES}u + lane;
  let rr = min(r, p.rows - 1u);
  let ci = rr / KH;
  let kh = rr % KH;
  let co0 = wg.y * TM;
  let slice = wg.z;
  let n0 = slice * p.nPerSplit;
  let n1 = min(p.batch, n0 + p.nPerSplit);
  let hi = i32(p.h) - 1;
  let wi = i32(p.w) - 1;
  let oplane = p.oh * p.ow;
#if ${SUBGROUPS}
  var coMine: array<u32, ${TM} / ${SW}>;
  for (var g = 0u; g < TM / ${SW}u; g++) {
    coMine[g] = min(co0 + g * ${SW}u + sgl % ${SW}u, p.cout - 1u);
  }
#endif

  // vec4 accumulators over four consecutive positions of a run (summed in a fixed order at the end):
  // NIR counts a vec4 op once when deciding to unroll, which keeps the run body unrolled.
  var acc: array<vec4f, ${TM} * ${KW}>;
  for (var n = n0; n < n1; n++) {
    let xPlane = (n * p.cin + ci) * p.h * p.w;
    let dyImage = n * p.cout * oplane;
    for (var oh = 0u; oh < p.oh; oh++) {
      let th = i32(oh * S) - p.padH + i32(kh);
      let rowOk = th >= 0 && th <= hi;
      let rowBase = xPlane + u32(clamp(th, 0, hi)) * p.w;
      let dyRow = dyImage + oh * p.ow;
      for (var ow0 = 0u; ow0 < p.ow; ow0 += PW) {
        let tw0 = i32(ow0 * S) - p.padW;
        var win = load_window(rowBase, rowOk, tw0, wi);
#if ${SUBGROUPS}
        var g: array<vec4f, ${TM} / ${SW} * ${PW} / 4>;
        for (var gi = 0u; gi < TM / ${SW}u; gi++) {
          for (var j4 = 0u; j4 < PW / 4u; j4++) {
            g[gi * PW / 4u + j4] = dy4(dyRow + coMine[gi] * oplane, ow0 + j4 * 4u);
          }
        }
#endif
        for (var i = 0u; i < TM; i++) {
          for (var j4 = 0u; j4 < PW / 4u; j4++) {
#if ${SUBGROUPS}
            let d = subgroupShuffle(g[i / ${SW}u * PW / 4u + j4], i % ${SW}u);
#else
            let d = dy4(dyRow + min(co0 + i, p.cout - 1u) * oplane, ow0 + j4 * 4u);
#endif
            let j = j4 * 4u;
            for (var kw = 0u; kw < KW; kw++) {
              let xv = vec4f(win[j * S + kw], win[(j + 1u) * S + kw], win[(j + 2u) * S + kw], win[(j + 3u) * S + kw]);
              acc[i * KW + kw] = fma(d, xv, acc[i * KW + kw]);
            }
          }
        }
      }
    }
  }

  if (r >= p.rows) {
    return;
  }
  let kk = KH * KW;
  let perCo = p.cin * kk;
  let base = slice * p.cout * perCo + ci * kk + kh * KW;
  for (var i = 0u; i < TM; i++) {
    let co = co0 + i;
    if (co >= p.cout) {
      break;
    }
    for (var kw = 0u; kw < KW; kw++) {
      let a = acc[i * KW + kw];
      Part[base + co * perCo + kw] = (a.x + a.y) + (a.z + a.w);
    }
  }
}
