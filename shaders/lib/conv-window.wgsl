// The input row window of a convolution (conv2d.wgsl, conv2d-wgrad.wgsl): WIN values of the row that
// starts at X[rowBase], from column tw0 on, zero outside the image (rowOk false: the row is padding; a
// column outside [0, wi]: padding). Reads are clamped into the row, so none leaves the buffer. Each
// kernel loads one window per (ci, kh) and reuses it for every kw and output channel.
fn load_window(rowBase: u32, rowOk: bool, tw0: i32, wi: i32) -> array<f32, WIN> {
  var win: array<f32, WIN>;
  for (var t = 0u; t < WIN; t++) {
    let tw = tw0 + i32(t);
    let v = X[rowBase + u32(clamp(tw, 0, wi))];
    win[t] = select(0.0, v, rowOk && tw >= 0 && tw <= wi);
  }
  return win;
}
