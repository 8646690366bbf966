// The output transform of both GEMM kernels (gemm.wgsl, gemm-tiled.wgsl): alpha, then the bias along n
// (BIAS_N) or m (BIAS_M), then the activation (activation.wgsl's `activate`). Split-K partials are
// stored raw and get it in the fold.
#if ${SPLIT}
#else
fn epilogue(v: f32, m: u32, n: u32) -> f32 {
#if ${BIAS_N}
  return activate(v * p.alpha + Bias[n]);
#elif ${BIAS_M}
  return activate(v * p.alpha + Bias[m]);
#else
  return activate(v * p.alpha);
#endif
}
#endif
