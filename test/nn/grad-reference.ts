// Float64 reverse-mode gradients of the mean cross-entropy of a test-side PyTorch CNN (test/helpers/
// torch-models.ts) in train mode (BN on batch statistics), written plainly by the chain rule, layer by
// layer (no code shared with src/nn). Its own correctness is checked against central differences of the f64
// forward (resnetLossRef / vggLossRef) in test/sglp/gradnorm-cnn.test.ts; with it, a whole network's
// GradNorm √(Σ ‖∇_p‖²) has an independent reference where finite differences of every one of ~10^5
// parameters would take too long.

import { conv2dRef, crossEntropyRef, maxPoolRef, shortcutARef } from '../helpers/cnn-reference.js';
import type { TorchConvBn, TorchNet } from '../helpers/torch-models.js';
import type { Params64 } from './resnet-reference.js';

export interface GradRef {
  loss: number;
  /** d loss / d p for every weight and bias (not the running statistics). */
  grads: Map<string, Float64Array>;
}

interface PairCache {
  x: ArrayLike<number>;
  xShape: number[];
  xhat: Float64Array;
  invStd: Float64Array;
  shape: number[];
  out: Float64Array;
}

function pairForward(pc: TorchConvBn, p: Params64, x: ArrayLike<number>, xShape: number[]): PairCache {
  const { conv, bn } = pc;
  const c = conv2dRef(
    x,
    p[`${conv.name}.weight`],
    conv.bias ? p[`${conv.name}.bias`] : undefined,
    xShape,
    [conv.cout, conv.cin, conv.kernel, conv.kernel],
    conv.stride,
    conv.padding,
  );
  const [n, ch, h, w] = c.shape;
  const plane = h * w;
  const count = n * plane;
  const gamma = p[`${bn.name}.weight`];
  const beta = p[`${bn.name}.bias`];
  const xhat = new Float64Array(c.out.length);
  const out = new Float64Array(c.out.length);
  const invStd = new Float64Array(ch);
  for (let k = 0; k < ch; k++) {
    let mean = 0;
    for (let b = 0; b < n; b++) for (let i = 0; i < plane; i++) mean += c.out[(b * ch + k) * plane + i];
    mean /= count;
    let v = 0;
    for (let b = 0; b < n; b++)
      for (let i = 0; i < plane; i++) v += (c.out[(b * ch + k) * plane + i] - mean) ** 2;
    invStd[k] = 1 / Math.sqrt(v / count + bn.eps); // biased variance, as BN normalises in train mode
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < plane; i++) {
        const o = (b * ch + k) * plane + i;
        xhat[o] = (c.out[o] - mean) * invStd[k];
        out[o] = gamma[k] * xhat[o] + beta[k];
      }
    }
  }
  return { x, xShape, xhat, invStd, shape: c.shape, out };
}

/** Backward of conv → BN given d loss / d BN output; adds the parameter gradients, returns d loss / d x. */
function pairBackward(
  pc: TorchConvBn,
  p: Params64,
  cache: PairCache,
  dout: ArrayLike<number>,
  grads: Map<string, Float64Array>,
): Float64Array {
  const { conv, bn } = pc;
  const [n, ch, oh, ow] = cache.shape;
  const plane = oh * ow;
  const count = n * plane;
  const gamma = p[`${bn.name}.weight`];
  const dgamma = new Float64Array(ch);
  const dbeta = new Float64Array(ch);
  const dpre = new Float64Array(dout.length);
  for (let k = 0; k < ch; k++) {
    let sdy = 0;
    let sdyx = 0;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < plane; i++) {
        const o = (b * ch + k) * plane + i;
        sdy += dout[o];
        sdyx += dout[o] * cache.xhat[o];
      }
    }
    dgamma[k] = sdyx;
    dbeta[k] = sdy;
    // dx̂ = γ dy; dx = (1/σ) (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)).
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < plane; i++) {
        const o = (b * ch + k) * plane + i;
        dpre[o] = gamma[k] * cache.invStd[k] * (dout[o] - sdy / count - (cache.xhat[o] * sdyx) / count);
      }
    }
  }
  add(grads, `${bn.name}.weight`, dgamma);
  add(grads, `${bn.name}.bias`, dbeta);

  const [, cin, h, w] = cache.xShape;
  const { kernel: K, stride: s, padding: pad } = conv;
  const W = p[`${conv.name}.weight`];
  const dw = new Float64Array(W.length);
  const dx = new Float64Array(cache.x.length);
  for (let b = 0; b < n; b++) {
    for (let co = 0; co < ch; co++) {
      for (let ci = 0; ci < cin; ci++) {
        for (let kh = 0; kh < K; kh++) {
          for (let kw = 0; kw < K; kw++) {
            const wi = ((co * cin + ci) * K + kh) * K + kw;
            let acc = 0;
            for (let y = 0; y < oh; y++) {
              const iy = y * s - pad + kh;
              if (iy < 0 || iy >= h) continue;
              for (let z = 0; z < ow; z++) {
                const ix = z * s - pad + kw;
                if (ix < 0 || ix >= w) continue;
                const d = dpre[((b * ch + co) * oh + y) * ow + z];
                const xi = ((b * cin + ci) * h + iy) * w + ix;
                acc += d * cache.x[xi];
                dx[xi] += W[wi] * d;
              }
            }
            dw[wi] += acc;
          }
        }
      }
    }
  }
  add(grads, `${conv.name}.weight`, dw);
  if (conv.bias) {
    const db = new Float64Array(ch);
    for (let b = 0; b < n; b++)
      for (let k = 0; k < ch; k++) for (let i = 0; i < plane; i++) db[k] += dpre[(b * ch + k) * plane + i];
    add(grads, `${conv.name}.bias`, db);
  }
  return dx;
}

function add(grads: Map<string, Float64Array>, key: string, g: Float64Array): void {
  const had = grads.get(key);
  if (!had) grads.set(key, g);
  else for (let i = 0; i < g.length; i++) had[i] += g[i];
}

const relu = (v: Float64Array) => v.map((a) => Math.max(a, 0));
/** d relu(a) = d where a > 0 (PyTorch's convention at 0: gradient 0). */
const reluBack = (d: ArrayLike<number>, a: ArrayLike<number>) =>
  Float64Array.from(d, (v, i) => (a[i] > 0 ? v : 0));

/** Linear layer forward on rows of `width` and its backward. */
function linearForward(W: Float64Array, B: Float64Array, x: ArrayLike<number>, n: number, width: number) {
  const outF = B.length;
  const y = new Float64Array(n * outF);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < outF; o++) {
      let acc = B[o];
      for (let i = 0; i < width; i++) acc += W[o * width + i] * x[r * width + i];
      y[r * outF + o] = acc;
    }
  }
  return y;
}

function linearBackward(
  name: string,
  W: Float64Array,
  x: ArrayLike<number>,
  dy: Float64Array,
  n: number,
  width: number,
  grads: Map<string, Float64Array>,
): Float64Array {
  const outF = dy.length / n;
  const dW = new Float64Array(W.length);
  const dB = new Float64Array(outF);
  const dx = new Float64Array(n * width);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < outF; o++) {
      const d = dy[r * outF + o];
      dB[o] += d;
      for (let i = 0; i < width; i++) {
        dW[o * width + i] += d * x[r * width + i];
        dx[r * width + i] += d * W[o * width + i];
      }
    }
  }
  add(grads, `${name}.weight`, dW);
  add(grads, `${name}.bias`, dB);
  return dx;
}

/** d mean CE / d logits = (softmax − one-hot) / n. */
function crossEntropyBack(logits: Float64Array, labels: ArrayLike<number>, classes: number): Float64Array {
  const n = labels.length;
  const d = new Float64Array(logits.length);
  for (let r = 0; r < n; r++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < classes; j++) max = Math.max(max, logits[r * classes + j]);
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += Math.exp(logits[r * classes + j] - max);
    for (let j = 0; j < classes; j++) {
      d[r * classes + j] = (Math.exp(logits[r * classes + j] - max) / sum - (j === labels[r] ? 1 : 0)) / n;
    }
  }
  return d;
}

/** Max pool forward that remembers where each output came from (the first maximum, as PyTorch picks). */
function maxPoolArg(x: ArrayLike<number>, shape: number[], k: number, s: number) {
  const [n, c, h, w] = shape;
  const oh = Math.floor((h - k) / s) + 1;
  const ow = Math.floor((w - k) / s) + 1;
  const from = new Int32Array(n * c * oh * ow);
  const out = new Float64Array(from.length);
  for (let b = 0; b < n * c; b++) {
    for (let y = 0; y < oh; y++) {
      for (let z = 0; z < ow; z++) {
        let best = -1;
        for (let i = 0; i < k; i++) {
          for (let j = 0; j < k; j++) {
            const xi = (b * h + y * s + i) * w + z * s + j;
            if (best < 0 || x[xi] > x[best]) best = xi;
          }
        }
        const o = (b * oh + y) * ow + z;
        from[o] = best;
        out[o] = x[best];
      }
    }
  }
  return { out, from, shape: [n, c, oh, ow] };
}

/** Loss and every weight's and bias's gradient of the mean cross-entropy, BN in train mode. */
export function gradRef(
  net: TorchNet,
  p: Params64,
  x: ArrayLike<number>,
  labels: ArrayLike<number>,
): GradRef {
  const n = labels.length;
  const grads = new Map<string, Float64Array>();
  if (net.family === 'resnet') {
    if (net.stem.pool) throw new Error('gradRef: the torchvision stem pool is not written here');
    const stem = pairForward(net.stem, p, x, [n, ...net.input]);
    let cur = relu(stem.out);
    let shape = stem.shape;
    const blocks = net.blocks.map((block) => {
      const input = cur;
      const inShape = shape;
      const body: PairCache[] = [];
      let h: Float64Array = input;
      let hs = inShape;
      block.body.forEach((pair, i) => {
        const c = pairForward(pair, p, h, hs);
        body.push(c);
        hs = c.shape;
        h = i < block.body.length - 1 ? relu(c.out) : c.out;
      });
      const s = block.shortcut;
      let proj: PairCache | undefined;
      let sc: ArrayLike<number>;
      if (s.kind === 'identity') sc = input;
      else if (s.kind === 'optionA') sc = shortcutARef(input, inShape, s.pad).out;
      else {
        proj = pairForward(s, p, input, inShape);
        sc = proj.out;
      }
      const sum = h.map((v, i) => v + sc[i]);
      cur = relu(sum);
      shape = hs;
      return { input, inShape, body, proj, sum };
    });
    // Global average pool, then the linear layer.
    const [, C, H, W] = shape;
    const pooled = new Float64Array(n * C);
    for (let i = 0; i < n * C; i++) {
      let acc = 0;
      for (let j = 0; j < H * W; j++) acc += cur[i * H * W + j];
      pooled[i] = acc / (H * W);
    }
    const Wfc = p[`${net.fc.name}.weight`];
    const logits = linearForward(Wfc, p[`${net.fc.name}.bias`], pooled, n, C);
    const loss = crossEntropyRef(logits, labels, net.classes, 0).loss;
    const dpooled = linearBackward(
      net.fc.name,
      Wfc,
      pooled,
      crossEntropyBack(logits, labels, net.classes),
      n,
      C,
      grads,
    );
    let d: Float64Array = new Float64Array(cur.length);
    for (let i = 0; i < n * C; i++) for (let j = 0; j < H * W; j++) d[i * H * W + j] = dpooled[i] / (H * W);
    for (let bi = net.blocks.length - 1; bi >= 0; bi--) {
      const block = net.blocks[bi];
      const f = blocks[bi];
      const dsum = reluBack(d, f.sum);
      let dh: Float64Array = dsum;
      for (let i = block.body.length - 1; i >= 0; i--) {
        if (i < block.body.length - 1) dh = reluBack(dh, f.body[i].out);
        dh = pairBackward(block.body[i], p, f.body[i], dh, grads);
      }
      const s = block.shortcut;
      if (s.kind === 'identity') for (let i = 0; i < dh.length; i++) dh[i] += dsum[i];
      else if (s.kind === 'optionA') {
        // x[:, :, ::2, ::2] with `pad` channels in front: route each gradient back to its source.
        const [bn, c, h, w] = f.inShape;
        const [oh, ow] = [Math.ceil(h / 2), Math.ceil(w / 2)];
        const co = c + 2 * s.pad;
        for (let b = 0; b < bn; b++)
          for (let ch = 0; ch < c; ch++)
            for (let y = 0; y < oh; y++)
              for (let z = 0; z < ow; z++)
                dh[((b * c + ch) * h + 2 * y) * w + 2 * z] += dsum[((b * co + ch + s.pad) * oh + y) * ow + z];
      } else {
        const dproj = pairBackward(s, p, f.proj as PairCache, dsum, grads);
        for (let i = 0; i < dh.length; i++) dh[i] += dproj[i];
      }
      d = dh;
    }
    pairBackward(net.stem, p, stem, reluBack(d, stem.out), grads);
    return { loss, grads };
  }

  // VGG: conv → BN → ReLU and 2x2 pools, flatten, a classifier of linear layers and ReLUs.
  let cur: Float64Array = Float64Array.from(x);
  let shape = [n, ...net.input];
  const tape: ({ kind: 'conv'; c: PairCache } | { kind: 'pool'; from: Int32Array; inLength: number })[] = [];
  for (const f of net.features) {
    if (f.kind === 'pool') {
      if (f.padding !== 0) throw new Error('gradRef: padded pools are not written here');
      const r = maxPoolArg(cur, shape, f.kernel, f.stride);
      tape.push({ kind: 'pool', from: r.from, inLength: cur.length });
      // Same values as the forward reference's pool.
      if (r.out.length !== maxPoolRef(cur, shape, f.kernel, f.stride, 0).out.length) throw new Error('pool');
      cur = r.out;
      shape = r.shape;
      continue;
    }
    const c = pairForward(f, p, cur, shape);
    tape.push({ kind: 'conv', c });
    cur = relu(c.out);
    shape = c.shape;
  }
  const acts: { x: Float64Array; width: number }[] = [];
  let width = cur.length / n;
  for (const layer of net.classifier) {
    acts.push({ x: cur, width });
    if (layer.op === 'dropout') throw new Error('gradRef: dropout is not written here');
    if (layer.op === 'relu') cur = relu(cur);
    else {
      cur = linearForward(p[`${layer.name}.weight`], p[`${layer.name}.bias`], cur, n, width);
      width = layer.outFeatures;
    }
  }
  const loss = crossEntropyRef(cur, labels, net.classes, 0).loss;
  let d: Float64Array = crossEntropyBack(cur, labels, net.classes);
  for (let i = net.classifier.length - 1; i >= 0; i--) {
    const layer = net.classifier[i];
    const a = acts[i];
    if (layer.op === 'relu') d = reluBack(d, a.x);
    else if (layer.op === 'linear')
      d = linearBackward(layer.name, p[`${layer.name}.weight`], a.x, d, n, a.width, grads);
  }
  const convs = net.features.filter((f) => f.kind === 'conv');
  let ci = convs.length - 1;
  for (let t = tape.length - 1; t >= 0; t--) {
    const step = tape[t];
    if (step.kind === 'pool') {
      const dx = new Float64Array(step.inLength);
      step.from.forEach((src, o) => {
        dx[src] += d[o];
      });
      d = dx;
    } else {
      d = pairBackward(convs[ci--], p, step.c, reluBack(d, step.c.out), grads);
    }
  }
  return { loss, grads };
}

/** √(Σ ‖g‖²) over every gradient. */
export function globalNorm(grads: Map<string, Float64Array>): number {
  let s = 0;
  for (const g of grads.values()) for (const v of g) s += v * v;
  return Math.sqrt(s);
}
