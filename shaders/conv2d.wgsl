// 2-D convolution, NCHW, as an implicit GEMM (no im2col buffer):
//   Out[n, co, offH + step*oh, offW + step*ow] =
//     bias[co] + sum_{ci, kh, kw} Wt[co*sCo + ci*sCi + tapBase + kh*tapStepH + kw*tapStepW]
//                                 * X[n, ci, oh*S - padH + kh, ow*S - padW + kw]      (X zero-padded)
// over oh < OH, ow < OW, kh < KH, kw < KW. The forward pass is taps (0, KW, 1) and output step 1. The input
// gradient of a stride-S convolution is S*S such launches, one per output phase (ih % S, iw % S): each is
// a stride-1 convolution of dy with the taps of that phase (every S-th weight, flipped, channels swapped)
// written to every S-th position, so no multiply is spent on the zeros of a dilated dy.
//
// Work split (tuned on lavapipe, where a workgroup of 8 invocations is one AVX2 vector): each invocation
// owns TM output channels x OWT consecutive outputs of one output row. Per (ci, kh) it loads the input
// row window those outputs need once ((OWT-1)*S + KW values, zero outside the image) and reuses it for
// every kw and every channel: TM*OWT*KW FMAs per window load. Weights are the same for every lane; with
// SUBGROUPS the TM channels form TM / SW groups of SW (<= the subgroup size): lane l loads the weight of
// channel g*SW + l % SW of each group g and subgroupShuffle hands it to all lanes. On lavapipe a load at
// a lane-uniform address costs about as much as a gather, so this turns SW loads into one, the biggest
// single win measured (3 -> ~16 GFLOP/s on 64x16x32x32 3x3).
// Epilogue: + Bias[co] (HAS_BIAS), + Res[same index as Out] (RESIDUAL), then max(., 0) (RELU): a batch
// norm folded into the weights and bias, the residual add and the ReLU of a ResNet block in one pass.
// Lanes are spread over flattened (n, oh, segment) positions; workgroup id = position group * coBlocks +
// channel block, so neighbouring workgroups read the same input rows.

#if ${SUBGROUPS}
enable subgroups;
#endif

// Params: the uniforms declared in src/ops/conv/conv2d.ts.
#include params

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
#if ${HAS_BIAS}
@group(0) @binding(2) var<storage, read> Bias: array<f32>;
#endif
#if ${OUT_VEC4}
alias O = vec4f;
#else
alias O = f32;
#endif
#if ${RESIDUAL}
@group(0) @binding(${BIND_RES}) var<storage, read> Res: array<O>;
#endif
@group(0) @binding(${BIND_OUT}) var<storage, read_write> Out: array<O>;
@group(0) @binding(${BIND_P}) var<uniform> p: Params;

const KH = ${KH}u;
const KW = ${KW}u;
const S = ${STRIDE}u;
const TM = ${TM}u;
const OWT = ${OWT}u;
const WIN = (${OWT}u - 1u) * ${STRIDE}u + ${KW}u;

#include conv-window

@compute @workgroup_size(${LANES})
fn main(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(local_invocation_index) lane: u32,
#if ${SUBGROUPS}
  @builtin(subgroup_invocation_id) sgl: u32,
#endif
) {
  let id = wg.y * p.gridX + wg.x;
  let cb = id % p.coBlocks;
  let q = (id / p.coBlocks) * ${LANES}u + lane;
  let qq = min(q, p.positions - 1u);
  let seg = qq % p.segs;
  let rest = qq / p.segs;
  let oh = rest % p.oh;
  let n = rest / p.oh;
  let ow0 = seg * OWT;
  let co0 = cb * TM;

  // Weight offsets of this block's channels (clamped: channels past cout compute garbage, never stored).
#if ${SUBGROUPS}
  var wMine: array<u32, ${TM} / ${SW}>;
  for (var g = 0u; g < TM / ${SW}u; g++) {
    wMine[g] = min(co0 + g * ${SW}u + sgl % ${SW}u, p.cout - 1u) * p.sCo;
  }
#else
  var wco: array<u32, ${TM}>;
  for (var i = 0u; i < TM; i++) {
    wco[i] = min(co0 + i, p.cout - 1u) * p.sCo;
  }
#endif
  let th0 = i32(oh * S) - p.padH;
  let tw0 = i32(ow0 * S) - p.padW;
  let hi = i32(p.h) - 1;
  let wi = i32(p.w) - 1;
  let plane = p.h * p.w;

#if ${VEC}
  // Four consecutive outputs per vec4 accumulator: NIR counts a vec4 op once when deciding to unroll, so
  // TM x OWT = 128 still unrolls (scalar accumulators stop unrolling past 64 and run 10x slower).
  var acc: array<vec4f, ${TM} * ${OWT} / 4>;
#else
  var acc: array<f32, ${TM} * ${OWT}>;
#endif
  var xBase = n * p.cin * plane;
  var wBase = 0u;
  for (var ci = 0u; ci < p.cin; ci++) {
    for (var kh = 0u; kh < KH; kh++) {
      let th = th0 + i32(kh);
      let rowOk = th >= 0 && th <= hi;
      let rowBase = xBase + u32(clamp(th, 0, hi)) * p.w;
      var row = load_window(rowBase, rowOk, tw0, wi);
      let wRow = i32(wBase) + p.tapBase + i32(kh) * p.tapStepH;
      for (var kw = 0u; kw < KW; kw++) {
        let wk = u32(wRow + i32(kw) * p.tapStepW);
#if ${SUBGROUPS}
        var w: array<f32, ${TM} / ${SW}>;
        for (var g = 0u; g < TM / ${SW}u; g++) {
          w[g] = Wt[wMine[g] + wk];
        }
#endif
        for (var i = 0u; i < TM; i++) {
#if ${SUBGROUPS}
          let wv = subgroupShuffle(w[i / ${SW}u], i % ${SW}u);
#else
          let wv = Wt[wco[i] + wk];
#endif
#if ${VEC}
          for (var j4 = 0u; j4 < OWT / 4u; j4++) {
            let j = j4 * 4u;
            let xv = vec4f(row[j * S + kw], row[(j + 1u) * S + kw], row[(j + 2u) * S + kw], row[(j + 3u) * S + kw]);
            acc[i * OWT / 4u + j4] = fma(vec4f(wv), xv, acc[i * OWT / 4u + j4]);
          }
#else
          for (var j = 0u; j < OWT; j++) {
            acc[i * OWT + j] = fma(wv, row[j * S + kw], acc[i * OWT + j]);
          }
#endif
        }
      }
    }
    xBase += plane;
    wBase += p.sCi;
  }

  if (q >= p.positions) {
    return;
  }
  let oplane = p.outH * p.outW;
  let orow = (p.outOffH + p.outStep * oh) * p.outW + p.outOffW;
  for (var i = 0u; i < TM; i++) {
    let co = co0 + i;
    if (co >= p.cout) {
      break;
    }
#if ${HAS_BIAS}
    let b = Bias[co];
#else
    let b = 0.0;
#endif
    let base = (n * p.cout + co) * oplane + orow;
#if ${OUT_VEC4}
    // Output rows of whole vec4s (step 1, OW % 4 == 0, OWT % 4 == 0): one store per four outputs keeps
    // this loop small enough to unroll (a rolled loop would index acc dynamically and push it to memory).
    for (var j4 = 0u; j4 < OWT / 4u; j4++) {
      let j = j4 * 4u;
      if (ow0 + j < p.ow) {
        let o = (base + ow0 + j) / 4u;
        var v = acc[i * OWT / 4u + j4] + vec4f(b);
#if ${RESIDUAL}
        v += Res[o];
#endif
#if ${RELU}
        v = max(v, vec4f(0.0));
#endif
        Out[o] = v;
      }
    }
#else
    for (var j = 0u; j < OWT; j++) {
      if (ow0 + j < p.ow) {
        let o = base + p.outStep * (ow0 + j);
#if ${VEC}
        var v = acc[(i * OWT + j) / 4u][j % 4u] + b;
#else
        var v = acc[i * OWT + j] + b;
#endif
#if ${RESIDUAL}
        v += Res[o];
#endif
#if ${RELU}
        v = max(v, 0.0);
#endif
        Out[o] = v;
      }
    }
#endif
  }
}
