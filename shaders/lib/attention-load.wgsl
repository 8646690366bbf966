// Loads of attention.wgsl and attention-dkdv.wgsl: row `base` (element index of d = 0) of Q, K, V and,
// with LOAD_DO, dO, columns 4 c4 .. 4 c4 + 3, zero past D. The includer defines col4(c4), the vec4 column
// a VEC load reads: attention.wgsl's loops may pass D4 and clamp, attention-dkdv.wgsl's stop at D4.
fn ld_q(base: u32, c4: u32) -> vec4f {
#if ${VEC}
  return Q[base / 4u + col4(c4)];
#else
  let d = c4 * 4u;
  return vec4f(select(0.0, Q[base + min(d, D - 1u)], d < D), select(0.0, Q[base + min(d + 1u, D - 1u)], d + 1u < D),
               select(0.0, Q[base + min(d + 2u, D - 1u)], d + 2u < D), select(0.0, Q[base + min(d + 3u, D - 1u)], d + 3u < D));
#endif
}
fn ld_k(base: u32, c4: u32) -> vec4f {
#if ${VEC}
  return K[base / 4u + col4(c4)];
#else
  let d = c4 * 4u;
  return vec4f(select(0.0, K[base + min(d, D - 1u)], d < D), select(0.0, K[base + min(d + 1u, D - 1u)], d + 1u < D),
               select(0.0, K[base + min(d + 2u, D - 1u)], d + 2u < D), select(0.0, K[base + min(d + 3u, D - 1u)], d + 3u < D));
#endif
}
fn ld_v(base: u32, c4: u32) -> vec4f {
#if ${VEC}
  return V[base / 4u + col4(c4)];
#else
  let d = c4 * 4u;
  return vec4f(select(0.0, V[base + min(d, D - 1u)], d < D), select(0.0, V[base + min(d + 1u, D - 1u)], d + 1u < D),
               select(0.0, V[base + min(d + 2u, D - 1u)], d + 2u < D), select(0.0, V[base + min(d + 3u, D - 1u)], d + 3u < D));
#endif
}
#if ${LOAD_DO}
fn ld_do(base: u32, c4: u32) -> vec4f {
#if ${VEC}
  return dO[base / 4u + col4(c4)];
#else
  let d = c4 * 4u;
  return vec4f(select(0.0, dO[base + min(d, D - 1u)], d < D), select(0.0, dO[base + min(d + 1u, D - 1u)], d + 1u < D),
               select(0.0, dO[base + min(d + 2u, D - 1u)], d + 2u < D), select(0.0, dO[base + min(d + 3u, D - 1u)], d + 3u < D));
#endif
}
#endif
