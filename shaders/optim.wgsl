// One optimiser step over a parameter tensor, PyTorch's semantics, in place.
// SGD (ADAMW false): g = grad + wd * p; buf = momentum * buf + g; p -= lr * buf (dampening 0, no
// Nesterov; buf starts at 0, which equals PyTorch's "buf = g" on the first step).
// AdamW: p -= lr * wd * p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
// p -= lr * (m / c1) / (sqrt(v / c2) + eps), with c1 = 1 - b1^t and c2 = 1 - b2^t from the CPU.

// Params: the uniforms declared in src/ops/elementwise/optim.ts.
#include params

@group(0) @binding(0) var<storage, read_write> P: array<f32>;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> M: array<f32>;
#if ${ADAMW}
@group(0) @binding(3) var<storage, read_write> V: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
#else
@group(0) @binding(3) var<uniform> p: Params;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.y * groups.x * ${WG}u + gid.x; i < p.n; i += p.stride) {
    let w = P[i];
    let g = G[i];
#if ${ADAMW}
    let m = p.beta1 * M[i] + (1.0 - p.beta1) * g;
    let v = p.beta2 * V[i] + (1.0 - p.beta2) * g * g;
    M[i] = m;
    V[i] = v;
    P[i] = w - p.lr * p.wd * w - p.lr * (m / p.c1) / (sqrt(v / p.c2) + p.eps);
#else
    let buf = p.momentum * M[i] + g + p.wd * w;
    M[i] = buf;
    P[i] = w - p.lr * buf;
#endif
  }
}
