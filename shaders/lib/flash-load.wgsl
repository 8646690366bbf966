// Q / K / V / dO loads of the flash kernels, shared with attention.wgsl (attention-load.wgsl): columns
// 4 c4 .. + 3 of row `base`, zero past D; every caller passes c4 < D4, so a vec4 load needs no clamp.
fn col4(c4: u32) -> u32 {
  return c4;
}
#include attention-load
