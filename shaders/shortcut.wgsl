// CIFAR ResNet option-A shortcut (the common PyTorch LambdaLayer
// F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, pad, pad))): stride-2 subsample, then `pad` zero channels on each
// side. In [N, C, H, W], out [N, C + 2 pad, ceil(H / 2), ceil(W / 2)].
//   FWD: Out[n, co, oh, ow] = X[n, co - pad, 2 oh, 2 ow] when pad <= co < pad + C, else 0.
//   BWD: DX[n, c, ih, iw] = DY[n, c + pad, ih / 2, iw / 2] when ih and iw are even, else 0.
// One invocation per output element (FWD) or input element (BWD), grid-stride loop.

struct Params {
  total: u32,
  c: u32,
  h: u32,
  w: u32,
  co: u32,
  oh: u32,
  ow: u32,
  pad: u32,
  step: u32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
}

@group(0) @binding(0) var<storage, read> Src: array<f32>;
@group(0) @binding(1) var<storage, read_write> Dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.y * groups.x * ${WG}u + gid.x; i < p.total; i += p.step) {
#if ${BWD}
    let iw = i % p.w;
    let ih = (i / p.w) % p.h;
    let c = (i / (p.w * p.h)) % p.c;
    let n = i / (p.w * p.h * p.c);
    let src = ((n * p.co + c + p.pad) * p.oh + ih / 2u) * p.ow + iw / 2u;
    let v = Src[src];
    Dst[i] = select(0.0, v, ih % 2u == 0u && iw % 2u == 0u);
#else
    let ow = i % p.ow;
    let oh = (i / p.ow) % p.oh;
    let co = (i / (p.ow * p.oh)) % p.co;
    let n = i / (p.ow * p.oh * p.co);
    let inside = co >= p.pad && co < p.pad + p.c;
    let c = min(co - min(co, p.pad), p.c - 1u);
    let v = Src[((n * p.c + c) * p.h + 2u * oh) * p.w + 2u * ow];
    Dst[i] = select(0.0, v, inside);
#endif
  }
}
