// Attention benchmark: sglp's flash attention (forward, backward) against TensorFlow.js's WebGPU backend
// composing the same computation from matMul + softmax on the same adapter, in the same process.
// Usage (from the repo root):
//   npm run bench:attention [-- --no-peer] [-- --reps N]   (bundles it like this:)
//   npx esbuild bench/attention.ts --bundle --platform=node --format=esm --external:webgpu \
//     --main-fields=module,main --loader:.wgsl=text --outfile=dist/bench-attention.js \
//     --banner:js="import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" \
//   && node dist/bench-attention.js [--no-peer] [--reps N]
// (tfjs is bundled from its ES modules so its gradients register into the same engine.)
// Rates count the causal useful work for both engines: forward 4 B Hq D T(T+1)/2 FLOPs (QK^T and PV over
// the visible pairs), backward 2.5x that (the usual flash-attention convention: five matmuls to two).
// tfjs computes the full T x T product and masks it; its rate uses the same useful-FLOP count.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import type { Gpu } from '../src/gpu/device.js';
import { acquireDevice, dawn } from '../src/node/device.js';
import { attention, attentionBackward } from '../src/ops/llm/attention.js';
import { peerWaiter, startTfjsWebgpu, tfjsSync } from './peers/tfjs.js';

const args = process.argv.slice(2);
const withPeer = !args.includes('--no-peer');
const reps = args.includes('--reps') ? Number(args[args.indexOf('--reps') + 1]) : 5;
const [B, Hq, Hkv, T, D] = [1, 8, 2, 512, 64];
const fwdFlops = (4 * B * Hq * D * T * (T + 1)) / 2;
const bwdFlops = 2.5 * fwdFlops;

function random(n: number, seed: number): Float32Array {
  const x = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 31 - 1;
  }
  return x;
}

/** Median over `samples` of the mean time of `reps` back-to-back runs, in ms. */
async function time(run: () => void, sync: () => Promise<void>, samples = 5): Promise<number> {
  run();
  await sync();
  const ms: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) run();
    await sync();
    ms.push((performance.now() - t0) / reps);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

const gpu: Gpu = await acquireDevice();
const peerWait = peerWaiter(gpu);
process.stderr.write(`adapter: ${gpu.adapter.description}\n`);
const qd = random(B * Hq * T * D, 1);
const kd = random(B * Hkv * T * D, 2);
const vd = random(B * Hkv * T * D, 3);
const dod = random(B * Hq * T * D, 4);
const q = gpu.tensor(qd, [B, Hq, T, D]);
const k = gpu.tensor(kd, [B, Hkv, T, D]);
const v = gpu.tensor(vd, [B, Hkv, T, D]);
const dO = gpu.tensor(dod, [B, Hq, T, D]);
const fwd = attention(gpu, q, k, v);
const rows: { impl: string; pass: string; ms: number; gflops: number }[] = [];
const sync = () => gpu.sync();

const oursFwd = await time(() => {
  const r = attention(gpu, q, k, v);
  r.out.dispose();
  r.lse.dispose();
}, sync);
rows.push({ impl: 'sglp', pass: 'forward', ms: oursFwd, gflops: fwdFlops / oursFwd / 1e6 });
const oursBwd = await time(() => {
  const g = attentionBackward(gpu, dO, q, k, v, fwd.out, fwd.lse);
  g.dq.dispose();
  g.dk.dispose();
  g.dv.dispose();
}, sync);
rows.push({ impl: 'sglp', pass: 'backward', ms: oursBwd, gflops: bwdFlops / oursBwd / 1e6 });
rows.push({
  impl: 'sglp',
  pass: 'forward+backward',
  ms: oursFwd + oursBwd,
  gflops: (fwdFlops + bwdFlops) / (oursFwd + oursBwd) / 1e6,
});

if (withPeer) {
  await startTfjsWebgpu(dawn());
  const tsync = () => tfjsSync(peerWait);
  // GQA as tfjs users write it: kv heads repeated to the query heads (done once, outside the timing).
  const group = Hq / Hkv;
  const expand = (x: Float32Array) => {
    const t = tf.tensor4d(x, [B, Hkv, T, D]);
    const rep = tf.reshape(tf.tile(tf.expandDims(t, 2), [1, 1, group, 1, 1]), [B * Hq, T, D]);
    t.dispose();
    return rep;
  };
  const tq = tf.tensor3d(qd, [B * Hq, T, D]);
  const tk = expand(kd) as tf.Tensor3D;
  const tv = expand(vd) as tf.Tensor3D;
  const tdo = tf.tensor3d(dod, [B * Hq, T, D]);
  const mask = tf.tensor2d(
    Float32Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0)),
    [T, T],
  );
  const scale = 1 / Math.sqrt(D);
  const forward = (a: tf.Tensor3D, b: tf.Tensor3D, c: tf.Tensor3D) =>
    tf.matMul(tf.softmax(tf.add(tf.mul(tf.matMul(a, b, false, true), scale), mask)), c);
  const peerFwd = await time(() => tf.tidy(() => void forward(tq, tk, tv)), tsync);
  rows.push({ impl: 'tfjs', pass: 'forward', ms: peerFwd, gflops: fwdFlops / peerFwd / 1e6 });
  // tfjs autodiff recomputes the forward inside tf.grads: this is forward + backward.
  const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
    tf.sum(tf.mul(forward(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D), tdo)),
  );
  const peerBoth = await time(() => tf.tidy(() => void grads([tq, tk, tv])), tsync);
  rows.push({
    impl: 'tfjs',
    pass: 'forward+backward',
    ms: peerBoth,
    gflops: (fwdFlops + bwdFlops) / peerBoth / 1e6,
  });
  // Re-measure ours after the peer, so load changes on a shared machine show up as a spread.
  const again = await time(() => {
    const r = attention(gpu, q, k, v);
    r.out.dispose();
    r.lse.dispose();
  }, sync);
  rows.push({ impl: 'sglp (again)', pass: 'forward', ms: again, gflops: fwdFlops / again / 1e6 });
}

console.table(rows.map((r) => ({ ...r, ms: r.ms.toFixed(1), gflops: r.gflops.toFixed(2) })));
console.log(JSON.stringify({ adapter: gpu.adapter.description, shape: { B, Hq, Hkv, T, D }, reps, rows }));
gpu.destroy();
process.exit(0);
