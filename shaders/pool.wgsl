// Pooling over NCHW planes (P = N*C planes of H x W in, OH x OW out), one invocation per output element
// (forward) or per input element (backward), grid-stride loops:
//   MAX_FWD: Out = max over the window (padding never wins, as PyTorch's -inf padding), Arg = the plane
//            index ih*W + iw of the first maximum in scan order (kh, then kw): ties go to the earliest.
//   MAX_BWD: DX[ih, iw] = sum of DY over the outputs whose window holds (ih, iw) and whose Arg is it, in
//            output order (deterministic, no atomics).
//   AVG_FWD: Out[plane] = mean of the plane (global average pooling), summed in order.
//   AVG_BWD: DX = DY[plane] / (H*W).

// Params: the uniforms declared in src/ops/conv/pool.ts.
#include params

#if ${MAX_FWD}
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Out: array<f32>;
@group(0) @binding(2) var<storage, read_write> Arg: array<i32>;
@group(0) @binding(3) var<uniform> p: Params;
#elif ${MAX_BWD}
@group(0) @binding(0) var<storage, read> DY: array<f32>;
@group(0) @binding(1) var<storage, read> Arg: array<i32>;
@group(0) @binding(2) var<storage, read_write> DX: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#elif ${AVG_FWD}
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
#else
@group(0) @binding(0) var<storage, read> DY: array<f32>;
@group(0) @binding(1) var<storage, read_write> DX: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.y * groups.x * ${WG}u + gid.x; i < p.total; i += p.step) {
#if ${MAX_FWD}
    let ow = i % p.ow;
    let oh = (i / p.ow) % p.oh;
    let plane = i / (p.ow * p.oh);
    let base = plane * p.h * p.w;
    let h0 = i32(oh * p.stride) - i32(p.pad);
    let w0 = i32(ow * p.stride) - i32(p.pad);
    var best = -0x1.fffffep+127f;
    var arg = -1;
    for (var kh = 0u; kh < p.k; kh++) {
      let ih = h0 + i32(kh);
      if (ih < 0 || ih >= i32(p.h)) {
        continue;
      }
      for (var kw = 0u; kw < p.k; kw++) {
        let iw = w0 + i32(kw);
        if (iw < 0 || iw >= i32(p.w)) {
          continue;
        }
        let at = ih * i32(p.w) + iw;
        let v = X[base + u32(at)];
        if (arg < 0 || v > best) {
          best = v;
          arg = at;
        }
      }
    }
    Out[i] = best;
    Arg[i] = arg;
#elif ${MAX_BWD}
    let iw = i % p.w;
    let ih = (i / p.w) % p.h;
    let plane = i / (p.w * p.h);
    let at = i32(ih * p.w + iw);
    // Outputs whose window covers ih: oh*stride - pad <= ih <= oh*stride - pad + k - 1.
    let th = i32(ih + p.pad);
    let tw = i32(iw + p.pad);
    let s = i32(p.stride);
    let ohLo = max(0, (th - i32(p.k) + s) / s);
    let ohHi = min(i32(p.oh) - 1, th / s);
    let owLo = max(0, (tw - i32(p.k) + s) / s);
    let owHi = min(i32(p.ow) - 1, tw / s);
    var g = 0.0;
    for (var oh = ohLo; oh <= ohHi; oh++) {
      for (var ow = owLo; ow <= owHi; ow++) {
        let o = (plane * p.oh + u32(oh)) * p.ow + u32(ow);
        if (Arg[o] == at) {
          g += DY[o];
        }
      }
    }
    DX[i] = g;
#elif ${AVG_FWD}
    let base = i * p.h * p.w;
    var s = 0.0;
    for (var j = 0u; j < p.h * p.w; j++) {
      s += X[base + j];
    }
    Out[i] = s / f32(p.h * p.w);
#else
    DX[i] = DY[i / (p.h * p.w)] / f32(p.h * p.w);
#endif
  }
}
