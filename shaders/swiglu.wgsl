// SwiGLU's elementwise part (Hugging Face LlamaMLP: down(silu(gate(x)) * up(x))), f32:
//   forward   out = silu(g) u,                 silu(g) = g sigmoid(g)
//   backward  dg = dout u sigmoid(g) (1 + g (1 - sigmoid(g))),   du = dout silu(g)
// g and u are read at row * stride + offset + column, so they may be two tensors [rows, I] or the two
// halves of one fused gate-up projection [rows, 2I] (gate first). The backward writes dg and du the same
// way into one or two outputs. One invocation per (row, column).

// Params: the uniforms declared in src/ops/llm/swiglu.ts.
#include params

@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> U: array<f32>;
#if ${BACKWARD}
@group(0) @binding(2) var<storage, read> dOut: array<f32>;
#if ${PACKED}
@group(0) @binding(3) var<storage, read_write> dGU: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
#else
@group(0) @binding(3) var<storage, read_write> dG: array<f32>;
@group(0) @binding(4) var<storage, read_write> dU: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
#endif
#else
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let id = (wg.y * p.gridX + wg.x) * ${WG}u + lane;
  if (id >= p.n) {
    return;
  }
  let row = id / p.width;
  let c = id % p.width;
  let gi = row * p.gStride + p.gOffset + c;
  let ui = row * p.uStride + p.uOffset + c;
  let g = G[gi];
  let u = U[ui];
  let sig = 1.0 / (1.0 + exp(-g));
#if ${BACKWARD}
  let d = dOut[id];
  let dg = d * u * sig * (1.0 + g * (1.0 - sig));
  let du = d * g * sig;
#if ${PACKED}
  dGU[gi] = dg;
  dGU[ui] = du;
#else
  dG[id] = dg;
  dU[id] = du;
#endif
#else
  Out[id] = g * sig * u;
#endif
}
