// CIFAR ResNet option-A shortcut (the common PyTorch LambdaLayer
// F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, pad, pad))): stride-2 subsample, then `pad` zero channels on each
// side. In [N, C, H, W], out [N, C + 2 pad, ceil(H / 2), ceil(W / 2)].
//   FWD: Out[n, co, oh, ow] = X[n, co - pad, 2 oh, 2 ow] when pad <= co < pad + C, else 0.
//   BWD: DX[n, c, ih, iw] = DY[n, c + pad, ih / 2, iw / 2] when ih and iw are even, else 0.
// One invocation per output element (FWD) or input element (BWD), grid-stride loop. The sizes are
// compile-time constants: a division by a runtime value is a scalar divide per lane on lavapipe, and the
// index arithmetic below has four (a network has one or two of these shapes).

// Params: the uniforms declared in src/ops/conv/shortcut.ts.
#include params

const C = ${C}u;
const H = ${H}u;
const W = ${W}u;
const CO = ${CO}u;
const OH = ${OH}u;
const OW = ${OW}u;
const PAD = ${PAD}u;

@group(0) @binding(0) var<storage, read> Src: array<f32>;
@group(0) @binding(1) var<storage, read_write> Dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.y * groups.x * ${WG}u + gid.x; i < p.total; i += p.step) {
#if ${BWD}
    let iw = i % W;
    let ih = (i / W) % H;
    let c = (i / (W * H)) % C;
    let n = i / (W * H * C);
    let src = ((n * CO + c + PAD) * OH + ih / 2u) * OW + iw / 2u;
    let v = Src[src];
    Dst[i] = select(0.0, v, ih % 2u == 0u && iw % 2u == 0u);
#else
    let ow = i % OW;
    let oh = (i / OW) % OH;
    let co = (i / (OW * OH)) % CO;
    let n = i / (OW * OH * CO);
    let inside = co >= PAD && co < PAD + C;
    let c = min(co - min(co, PAD), C - 1u);
    let v = Src[((n * C + c) * H + 2u * oh) * W + 2u * ow];
    Dst[i] = select(0.0, v, inside);
#endif
  }
}
