// Rotary position embeddings exactly as Hugging Face's apply_rotary_pos_emb (rotate_half convention: the
// first and second halves of the head dimension form the pairs (i, i + D/2)), on x viewed as logical
// [B, T, H, D] with strides (sb, st, sh) given as uniforms, so [B, T, H, D] and [B, H, T, D] both work.
// cos / sin are tables [T, D/2] built on the CPU (src/ops/llm/rope.ts). One invocation per pair:
//   out[i]     = x[i] cos - x[i + D/2] sin * sign
//   out[i+D/2] = x[i + D/2] cos + x[i] sin * sign
// sign = -1 rotates back by the same angle: the backward (the rotation is orthogonal).

// Params: the uniforms declared in src/ops/llm/rope.ts.
#include params

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Cos: array<f32>;
@group(0) @binding(2) var<storage, read> Sin: array<f32>;
@group(0) @binding(3) var<storage, read_write> Out: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let id = (wg.y * p.gridX + wg.x) * ${WG}u + lane;
  if (id >= p.pairs) {
    return;
  }
  let i = id % p.half;
  let rest = id / p.half;
  let h = rest % p.h;
  let bt = rest / p.h;
  let t = bt % p.t;
  let b = bt / p.t;
  let base = b * p.sb + t * p.st + h * p.sh + i;
  let c = Cos[t * p.half + i];
  let s = Sin[t * p.half + i] * p.sign;
  let x1 = X[base];
  let x2 = X[base + p.half];
  Out[base] = x1 * c - x2 * s;
  Out[base + p.half] = x2 * c + x1 * s;
}
