// Activations shared by the elementwise, GEMM and split-K epilogue kernels (prepended to their source).
// ACT: 0 none, 1 relu, 2 silu, 3 gelu (erf form, as PyTorch's default).

fn erf_approx(x: f32) -> f32 {
  // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7); WGSL has no erf.
  let t = 1.0 / (1.0 + 0.3275911 * abs(x));
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-x * x);
  return select(-y, y, x >= 0.0);
}

fn activate(x: f32) -> f32 {
#if ${ACT_RELU}
  return max(x, 0.0);
#elif ${ACT_SILU}
  return x / (1.0 + exp(-x));
#elif ${ACT_GELU}
  return 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752));
#else
  return x;
#endif
}
