// Kernel benchmark: our kernels and TensorFlow.js's WebGPU backend on the same adapter in one process.
// Usage: npm run bench [-- --quick] [--json FILE] [--no-peer] [--only gemm,sum,attention,conv,planes,resnet]
// GEMM and attention rows name the kernel family: `plain` (lavapipe-tuned, no workgroup memory) and
// `tiled` / `flash` (workgroup-memory kernels for discrete GPUs), both measured in the same process
// whatever the adapter, so the GPU job compares old and new directly.
// Both engines wait for the GPU the same way (peerWaiter); SGLP_BENCH_PEER_SPIN=1 lets tfjs use dawn.node's
// own (spinning) wait.
import { writeFileSync } from 'node:fs';
import { Bench } from 'tinybench';
import { selfcheck } from '../src/api/selfcheck.js';
import type { Gpu } from '../src/gpu/device.js';
import type { Tensor } from '../src/gpu/tensor.js';
import { acquireDevice, dawn } from '../src/node/device.js';
import { chooseConvTiles, conv2d, conv2dBackwardInput } from '../src/ops/conv/conv2d.js';
import { chooseHaloTiles } from '../src/ops/conv/conv2d-halo.js';
import { chooseWgradTiles, conv2dBackwardWeight } from '../src/ops/conv/conv2d-wgrad.js';
import { gemm } from '../src/ops/linalg/gemm.js';
import { attention, attentionBackward } from '../src/ops/llm/attention.js';
import { sum } from '../src/ops/reduce/reduce.js';
import { peerWaiter, tfjsPeer } from './peers/tfjs.js';
import { tfjsResnet } from './peers/tfjs-resnet.js';
import { checkResnetPeer, RESNET_BATCH, RESNET_INPUT, resnetBench } from './resnet56.js';
import type { Workload } from './workload.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonPath = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const withPeer = !args.includes('--no-peer');
const GROUPS = ['gemm', 'sum', 'attention', 'conv', 'planes', 'resnet'];
const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : GROUPS;
for (const g of only)
  if (!GROUPS.includes(g)) throw new Error(`--only: unknown group ${g} (${GROUPS.join(', ')})`);

interface Row {
  case: string;
  impl: string;
  ms: number;
  rate: number;
  unit: 'GFLOP/s' | 'GB/s' | 'images/s';
  samples: number;
  /** The fastest sample, per operation (ms is the mean). */
  minMs: number;
  /** Operations per timed sample. */
  reps: number;
  /** Kernel time per operation from timestamp queries (ours only): without the CPU's encoding cost. */
  gpuMs?: number;
}

const rows: Row[] = [];

function random(n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.random() * 2 - 1;
  return x;
}

/** Each sample queues `reps` operations then waits once, so sub-millisecond GPU work is not timed as latency. */
const SAMPLE_MS = 20;

/** Timed samples for workloads of seconds (whole networks), where the defaults would take minutes. */
interface Long {
  readonly iterations: number;
}

async function measure(
  name: string,
  impl: string,
  work: number,
  unit: Row['unit'],
  w: Workload,
  long?: Long,
) {
  await w.record();
  await w.sync();
  let reps = 1;
  // Long workloads run one warm-up pass (pipeline compilation), then one pass per sample.
  if (!long) {
    const t0 = performance.now();
    await w.record();
    await w.sync();
    const once = performance.now() - t0;
    reps = Math.max(1, Math.min(500, Math.ceil(SAMPLE_MS / Math.max(once, 1e-3))));
  }
  w.gpuTime?.reset();
  const bench = new Bench({
    time: long ? 0 : quick ? 300 : 2000,
    iterations: long ? long.iterations : quick ? 2 : 5,
    warmup: !long,
    warmupIterations: 1,
    warmupTime: 0,
  });
  bench.add(name, async () => {
    for (let i = 0; i < reps; i++) await w.record();
    await w.sync();
  });
  await bench.run();
  const gpuMs = await w.gpuTime?.perOpMs();
  w.dispose();
  const r = bench.tasks[0].result;
  if (r.state !== 'completed') throw new Error(`${impl} ${name}: ${'error' in r ? r.error : r.state}`);
  const ms = r.latency.mean / reps;
  rows.push({
    case: name,
    impl,
    ms,
    rate: unit === 'images/s' ? work / (ms / 1e3) : work / (ms / 1e3) / 1e9,
    unit,
    samples: r.latency.samplesCount,
    minMs: r.latency.min / reps,
    reps,
    gpuMs,
  });
  process.stderr.write(
    `  ${impl.padEnd(8)} ${name.padEnd(26)} ${ms.toFixed(3).padStart(10)} ms  (x${reps} per sample)\n`,
  );
}

/** Our side of a workload: `op` records dispatches and returns the tensor to free. */
function ours(gpu: Gpu, op: () => Tensor | undefined, inputs: Tensor[]): Workload {
  let ops = 0;
  const profiler = gpu.profiler;
  return {
    record: () => {
      ops++;
      op()?.dispose();
    },
    sync: () => gpu.sync(),
    dispose: () => {
      for (const t of inputs) t.dispose();
    },
    gpuTime: profiler && {
      reset: () => {
        profiler.reset();
        ops = 0;
      },
      perOpMs: async () => {
        await gpu.sync();
        const total = profiler.summary().reduce((s, r) => s + r.totalMs, 0);
        return profiler.dropped === 0 && ops > 0 && total > 0 ? total / ops : undefined;
      },
    },
  };
}

function fill(gpu: Gpu, shape: number[], dtype: 'f32' | 'f16' = 'f32'): Tensor {
  return gpu.tensor(random(shape.reduce((a, b) => a * b, 1)), shape, dtype);
}

const gemmCases: [number, number, number][] = [
  [1024, 1024, 1024],
  [4096, 4096, 64],
  [64, 64, 16384],
];
/** Discrete GPUs only (seconds per operation on lavapipe): the peers' 4096^3 and a Llama-3.2-1B MLP linear. */
const gpuGemmCases: [number, number, number][] = [[4096, 4096, 4096]];
const GEMM_VARIANTS = ['plain', 'tiled'] as const;

// Timestamp queries give each kernel's GPU time next to the wall time (which includes encoding on the CPU).
const gpu = await acquireDevice({ profile: true }).catch(() => acquireDevice({ profile: false }));
const peerWait = peerWaiter(gpu);
const peer = withPeer ? await tfjsPeer(dawn(), peerWait) : undefined;
const a = gpu.adapter;
process.stderr.write(`adapter: ${a.vendor} / ${a.architecture} / ${a.description}\n`);
// Timings of wrong results are worthless: check the kernels on this adapter first.
const checks = await selfcheck(gpu);
for (const c of checks)
  process.stderr.write(`  check ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.maxRelError.toExponential(2)}\n`);
if (!checks.every((c) => c.ok)) process.exitCode = 1;

const bigGemms = gpu.adapter.isCpu ? [] : gpuGemmCases;
for (const [m, n, k] of only.includes('gemm') ? [...gemmCases, ...bigGemms] : []) {
  const name = `gemm ${m}x${n}x${k}`;
  const flops = 2 * m * n * k;
  const x = fill(gpu, [m, k]);
  const y = fill(gpu, [k, n]);
  for (const variant of GEMM_VARIANTS) {
    await measure(
      `${name} ${variant}`,
      'sglp',
      flops,
      'GFLOP/s',
      ours(gpu, () => gemm(gpu, x, y, { variant }), []),
    );
  }
  if (gpu.hasF16) {
    const xh = fill(gpu, [m, k], 'f16');
    const yh = fill(gpu, [k, n], 'f16');
    for (const variant of GEMM_VARIANTS) {
      await measure(
        `${name} f16 ${variant}`,
        'sglp',
        flops,
        'GFLOP/s',
        ours(gpu, () => gemm(gpu, xh, yh, { variant }), []),
      );
    }
    xh.dispose();
    yh.dispose();
  }
  x.dispose();
  y.dispose();
  if (peer) await measure(name, 'tfjs', flops, 'GFLOP/s', peer.matMul(m, n, k));
}
// A linear layer of the Llama-3.2-1B MLP (512 tokens x 2048 -> 8192, weight [out, in]): the LLM's GEMM,
// f32 activations times f32 or f16 weights. Discrete GPUs only.
if (only.includes('gemm') && !gpu.adapter.isCpu) {
  const [m, n, k] = [512, 8192, 2048];
  const x = fill(gpu, [m, k]);
  for (const dtype of gpu.hasF16 ? (['f32', 'f16'] as const) : (['f32'] as const)) {
    const w = fill(gpu, [n, k], dtype);
    for (const variant of GEMM_VARIANTS) {
      await measure(
        `linear ${m}x${k}->${n} ${dtype} weights ${variant}`,
        'sglp',
        2 * m * n * k,
        'GFLOP/s',
        ours(gpu, () => gemm(gpu, x, w, { transB: true, outDType: 'f32', variant }), []),
      );
    }
    w.dispose();
  }
  x.dispose();
}

// Causal GQA attention, the shapes of the PyTorch SDPA peer (bench/torch_llama.py): useful FLOPs (the
// visible half of QKᵀ and PV), backward counted as 2.5 forwards. T 2048 / D 128 on discrete GPUs only.
if (only.includes('attention')) {
  const shapes = gpu.adapter.isCpu
    ? [[1, 8, 2, 512, 64]]
    : [
        [1, 8, 2, 512, 64],
        [1, 32, 8, 2048, 128],
      ];
  for (const [B, Hq, Hkv, T, D] of shapes) {
    const q = fill(gpu, [B, Hq, T, D]);
    const k = fill(gpu, [B, Hkv, T, D]);
    const v = fill(gpu, [B, Hkv, T, D]);
    const dO = fill(gpu, [B, Hq, T, D]);
    const flops = (4 * B * Hq * D * T * (T + 1)) / 2;
    const name = `attention B${B} Hq${Hq} Hkv${Hkv} T${T} D${D}`;
    for (const variant of ['plain', 'flash'] as const) {
      const f = attention(gpu, q, k, v, { variant });
      await measure(`${name} fwd ${variant}`, 'sglp', flops, 'GFLOP/s', {
        ...ours(gpu, () => {
          const r = attention(gpu, q, k, v, { variant });
          r.lse.dispose();
          return r.out;
        }, []),
      });
      await measure(`${name} bwd ${variant}`, 'sglp', 2.5 * flops, 'GFLOP/s', {
        ...ours(gpu, () => {
          const g = attentionBackward(gpu, dO, q, k, v, f.out, f.lse, { variant });
          g.dq.dispose();
          g.dk.dispose();
          return g.dv;
        }, []),
      });
      f.out.dispose();
      f.lse.dispose();
    }
    for (const t of [q, k, v, dO]) t.dispose();
  }
}

// 64 MB of f32: the reduction reads it once; a buffer copy of the same size is the bandwidth yardstick
// (counted as the bytes read, like the reduction).
if (only.includes('sum')) {
  const count = 16 << 20;
  const bytes = count * 4;
  const big = fill(gpu, [count]);
  const dst = gpu.empty([count]);
  await measure(
    'copy 64 MB',
    'sglp',
    bytes,
    'GB/s',
    ours(gpu, () => void gpu.copy(big, dst), [dst]),
  );
  await measure(
    'sum 64 MB',
    'sglp',
    bytes,
    'GB/s',
    ours(gpu, () => sum(gpu, big), [big]),
  );
  if (peer) await measure('sum 64 MB', 'tfjs', bytes, 'GB/s', peer.sum(count));
}

// Convolution: batch 64, 16 -> 16 channels, 32x32, 3x3, padding 1 (a CIFAR ResNet stage-1 layer).
if (only.includes('conv')) {
  const [n, c, h, k] = [64, 16, 32, 3];
  const flops = 2 * n * c * h * h * c * k * k;
  const x = fill(gpu, [n, c, h, h]);
  const w = fill(gpu, [c, c, k, k]);
  const dy = fill(gpu, [n, c, h, h]);
  const geo = { stride: 1, padding: 1 };
  await measure(
    'conv2d fwd 64x16x32x32 3x3',
    'sglp',
    flops,
    'GFLOP/s',
    ours(gpu, () => conv2d(gpu, x, w, geo), []),
  );
  await measure(
    'conv2d dx',
    'sglp',
    flops,
    'GFLOP/s',
    ours(gpu, () => conv2dBackwardInput(gpu, dy, w, x.shape, geo), []),
  );
  await measure(
    'conv2d dW',
    'sglp',
    flops,
    'GFLOP/s',
    ours(gpu, () => conv2dBackwardWeight(gpu, x, dy, w.shape, geo), [x, w, dy]),
  );
  if (peer) await measure('conv2d fwd 64x16x32x32 3x3', 'tfjs', flops, 'GFLOP/s', peer.conv2d(n, c, h, c, k));
}

// Small planes (the last stage of a ResNet on 28x28 or 32x32 images, and smaller): batch 64, 3x3,
// padding 1; the row-window kernel, the halo kernel where its tiles fit and the whole-plane kernels
// (src/ops/conv/conv2d-plane.ts) with 8 and 16 output channels per invocation, in one process.
if (only.includes('planes')) {
  const shapes: [number, number][] = quick
    ? [[64, 7]]
    : [
        [16, 7],
        [32, 7],
        [64, 7],
        [64, 8],
        [64, 5],
        [128, 4],
      ];
  for (const [c, h] of shapes) {
    const n = 64;
    const flops = 2 * n * c * h * h * c * 9;
    const x = fill(gpu, [n, c, h, h]);
    const w = fill(gpu, [c, c, 3, 3]);
    const dy = fill(gpu, [n, c, h, h]);
    const geo = { stride: 1, padding: 1 };
    const tiles = chooseConvTiles({ cout: c, oh: h, ow: h }, true);
    const halo = chooseHaloTiles({ cout: c, h, w: h });
    const kernels: [string, object | undefined][] = [
      ['rows', { tiles }],
      ['halo', halo && { halo }],
      ['plane8', { plane: { tm: 8 } }],
    ];
    const name = `${n}x${c}x${h}x${h}`;
    for (const [impl, opts] of kernels) {
      if (!opts) continue;
      const o = { ...geo, ...opts };
      await measure(
        `fwd ${name}`,
        impl,
        flops,
        'GFLOP/s',
        ours(gpu, () => conv2d(gpu, x, w, o), []),
      );
      const dx = () => conv2dBackwardInput(gpu, dy, w, x.shape, o);
      await measure(`dx ${name}`, impl, flops, 'GFLOP/s', ours(gpu, dx, []));
    }
    const wtiles = chooseWgradTiles({ n, cin: c, cout: c, kh: 3 }, true);
    for (const [impl, opts] of [
      ['rows', { tiles: wtiles }],
      ['plane8', { plane: { tm: 8 } }],
      ['plane16', { plane: { tm: 16 } }],
    ] as const) {
      const dw = () => conv2dBackwardWeight(gpu, x, dy, w.shape, { ...geo, ...opts });
      await measure(`dW ${name}`, impl, flops, 'GFLOP/s', ours(gpu, dw, []));
    }
    if (peer) await measure(`fwd ${name}`, 'tfjs', flops, 'GFLOP/s', peer.conv2d(n, c, h, c, 3));
    for (const t of [x, w, dy]) t.dispose();
  }
}

// ResNet-56 (3x32x32, batch 64, 10 classes), same weights and input in both engines. Eval forward: ours
// with BN folded into the convs (what `sglp eval` runs) and as separate BN; train: forward, loss and
// every gradient (BN on batch statistics).
const peerChecks: { name: string; relError: number; ok: boolean }[] = [];
if (only.includes('resnet')) {
  const net = await resnetBench(gpu);
  const peerNet = peer ? tfjsResnet(net.desc, net.weights, net.x, net.labels, peerWait) : undefined;
  if (peerNet) {
    for (const c of await checkResnetPeer(net, peerNet)) {
      process.stderr.write(
        `  check ${c.ok ? 'ok  ' : 'FAIL'} resnet56 vs tfjs ${c.name}: ${c.relError.toExponential(2)}\n`,
      );
      peerChecks.push(c);
      if (!c.ok) process.exitCode = 1;
    }
  }
  // Seconds per pass on a CPU adapter: one warm-up, then five timed forward passes and two of training.
  const long = { iterations: quick ? 1 : 2 };
  const longForward = { iterations: quick ? 1 : 5 };
  const fwd = `resnet56 fwd ${RESNET_INPUT.join('x')} b${RESNET_BATCH}`;
  const train = `resnet56 fwd+bwd ${RESNET_INPUT.join('x')} b${RESNET_BATCH}`;
  await measure(fwd, 'sglp', RESNET_BATCH, 'images/s', net.evalForward(true), longForward);
  await measure(`${fwd} unfolded BN`, 'sglp', RESNET_BATCH, 'images/s', net.evalForward(false), longForward);
  if (peerNet) await measure(fwd, 'tfjs', RESNET_BATCH, 'images/s', peerNet.evalForward(), longForward);
  await measure(train, 'sglp', RESNET_BATCH, 'images/s', net.trainStep(), long);
  if (peerNet) await measure(train, 'tfjs', RESNET_BATCH, 'images/s', peerNet.trainStep(), long);
  peerNet?.dispose();
  net.dispose();
}

const table = rows.map((r) => {
  // Our variants (' unfolded BN', the GEMM kernel families) compare with the peer's row of the same network.
  const peerRow = rows.find(
    (p) => p.case === r.case.replace(/( unfolded BN| plain| tiled)$/, '') && p.impl === 'tfjs',
  );
  const ratio = r.impl === 'sglp' && peerRow ? (peerRow.ms / r.ms).toFixed(2) : '';
  return {
    case: r.case,
    impl: r.impl,
    ms: r.ms.toFixed(3),
    'GPU ms': r.gpuMs?.toFixed(3) ?? '',
    rate: `${r.rate.toFixed(2)} ${r.unit}`,
    'vs tfjs': ratio,
  };
});
console.table(table);
if (jsonPath) {
  const result = { adapter: gpu.adapter, date: new Date().toISOString(), quick, checks, peerChecks, rows };
  writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
}
gpu.destroy();
process.exit();
