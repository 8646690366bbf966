// Float64 CPU references for the CNN kernels, written plainly (no shared code with src/). Their tests check
// gradients with grad-check.ts: for a loss L = sum(f(inputs) * R) with a fixed random R, perturb one input
// element by +-eps in f64 and take (L+ - L-) / 2 eps.

export type Vec = Float64Array | Float32Array | number[];

/** out[n, co, oh, ow] = b[co] + sum w[co, ci, kh, kw] x[n, ci, oh*s - ph + kh, ow*s - pw + kw] (zero padded). */
export function conv2dRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | undefined,
  xs: readonly number[],
  ws: readonly number[],
  stride: number,
  padH: number,
  padW = padH,
): { out: Float64Array; shape: number[] } {
  const [n, cin, h, wd] = xs;
  const [cout, , kh, kw] = ws;
  const oh = Math.floor((h + 2 * padH - kh) / stride) + 1;
  const ow = Math.floor((wd + 2 * padW - kw) / stride) + 1;
  const out = new Float64Array(n * cout * oh * ow);
  // Each output adds its terms in (ci, kh, kw) order after the bias; the loops run tap by tap over whole
  // output rows (the columns whose input is inside the image) so that the network references stay quick.
  for (let b0 = 0; b0 < n; b0++) {
    for (let co = 0; co < cout; co++) {
      const plane = (b0 * cout + co) * oh * ow;
      out.fill(b ? b[co] : 0, plane, plane + oh * ow);
      for (let ci = 0; ci < cin; ci++) {
        const xPlane = (b0 * cin + ci) * h * wd;
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const wv = w[((co * cin + ci) * kh + i) * kw + j];
            // Columns z with 0 <= z * stride - padW + j < wd.
            const z0 = Math.max(0, Math.ceil((padW - j) / stride));
            const z1 = Math.min(ow, Math.floor((wd - 1 + padW - j) / stride) + 1);
            for (let y = 0; y < oh; y++) {
              const iy = y * stride - padH + i;
              if (iy < 0 || iy >= h) continue;
              const o = plane + y * ow;
              const xr = xPlane + iy * wd - padW + j;
              for (let z = z0; z < z1; z++) out[o + z] += wv * x[xr + z * stride];
            }
          }
        }
      }
    }
  }
  return { out, shape: [n, cout, oh, ow] };
}

/** Batch norm 2-D over [N, C, H, W] in f64: batch (training) or given (eval) statistics. */
export function batchNormRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  eps: number,
  given?: { mean: ArrayLike<number>; variance: ArrayLike<number> },
): { out: Float64Array; mean: Float64Array; variance: Float64Array } {
  const [n, c, h, w] = shape;
  const hw = h * w;
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    if (given) {
      mean[ch] = given.mean[ch];
      variance[ch] = given.variance[ch];
      continue;
    }
    let s = 0;
    for (let b = 0; b < n; b++) for (let i = 0; i < hw; i++) s += x[(b * c + ch) * hw + i];
    const m = s / (n * hw);
    let v = 0;
    for (let b = 0; b < n; b++) for (let i = 0; i < hw; i++) v += (x[(b * c + ch) * hw + i] - m) ** 2;
    mean[ch] = m;
    variance[ch] = v / (n * hw);
  }
  const out = new Float64Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const inv = 1 / Math.sqrt(variance[ch] + eps);
      for (let i = 0; i < hw; i++) {
        const k = (b * c + ch) * hw + i;
        out[k] = (x[k] - mean[ch]) * inv * gamma[ch] + beta[ch];
      }
    }
  }
  return { out, mean, variance };
}

/** Max pooling over [N, C, H, W] in f64 (-inf padding), with the first-maximum argmax per output. */
export function maxPoolRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  k: number,
  stride: number,
  pad: number,
): { out: Float64Array; arg: Int32Array; shape: number[] } {
  const [n, c, h, w] = shape;
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - k) / stride) + 1;
  const out = new Float64Array(n * c * oh * ow);
  const arg = new Int32Array(out.length);
  for (let pl = 0; pl < n * c; pl++) {
    for (let y = 0; y < oh; y++) {
      for (let z = 0; z < ow; z++) {
        let best = -Infinity;
        let at = -1;
        for (let i = 0; i < k; i++) {
          for (let j = 0; j < k; j++) {
            const iy = y * stride - pad + i;
            const iz = z * stride - pad + j;
            if (iy < 0 || iy >= h || iz < 0 || iz >= w) continue;
            const v = x[pl * h * w + iy * w + iz];
            if (v > best) {
              best = v;
              at = iy * w + iz;
            }
          }
        }
        out[(pl * oh + y) * ow + z] = best;
        arg[(pl * oh + y) * ow + z] = at;
      }
    }
  }
  return { out, arg, shape: [n, c, oh, ow] };
}

/** Mean of each H x W plane: [N, C]. */
export function globalAvgPoolRef(x: ArrayLike<number>, shape: readonly number[]): Float64Array {
  const [n, c, h, w] = shape;
  const out = new Float64Array(n * c);
  for (let pl = 0; pl < n * c; pl++) {
    let s = 0;
    for (let i = 0; i < h * w; i++) s += x[pl * h * w + i];
    out[pl] = s / (h * w);
  }
  return out;
}

/** Option-A shortcut: x[:, :, ::2, ::2] with `pad` zero channels on each side. */
export function shortcutARef(x: ArrayLike<number>, shape: readonly number[], pad: number) {
  const [n, c, h, w] = shape;
  const [co, oh, ow] = [c + 2 * pad, Math.ceil(h / 2), Math.ceil(w / 2)];
  const out = new Float64Array(n * co * oh * ow);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < oh; y++)
        for (let z = 0; z < ow; z++)
          out[((b * co + ch + pad) * oh + y) * ow + z] = x[((b * c + ch) * h + 2 * y) * w + 2 * z];
  return { out, shape: [n, co, oh, ow] };
}

/** Mean softmax cross-entropy with label smoothing over logits [B, C] (f64, log-sum-exp stabilised). */
export function crossEntropyRef(
  x: ArrayLike<number>,
  labels: ArrayLike<number>,
  cols: number,
  smoothing: number,
) {
  const rows = labels.length;
  const perSample = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[r * cols + j]);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[r * cols + j] - m);
    const lse = m + Math.log(s);
    let loss = 0;
    for (let j = 0; j < cols; j++) {
      const q = (j === labels[r] ? 1 - smoothing : 0) + smoothing / cols;
      loss -= q * (x[r * cols + j] - lse);
    }
    perSample[r] = loss;
  }
  return { perSample, loss: perSample.reduce((a, b) => a + b, 0) / rows };
}

/** The PCG hash of Jarzynski & Olano (2020) in u32 arithmetic, as shaders/dropout.wgsl computes it. */
function pcgRef(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** Dropout's multiplier per element (0 or 1 / (1 - p)) for n elements of one (seed, stream). */
export function dropoutMaskRef(n: number, p: number, seed: number, stream = 0): Float64Array {
  const key = pcgRef((seed ^ pcgRef(stream)) >>> 0);
  const threshold = Math.round(p * 2 ** 24);
  const scale = p >= 1 ? 0 : Math.fround(1 / (1 - p));
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = pcgRef((pcgRef(i) ^ key) >>> 0) >>> 8 >= threshold ? scale : 0;
  return out;
}
