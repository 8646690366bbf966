// `sglp bench [--quick] [--only GROUPS] [--peak-gflops X --peak-gbs Y] [--json]`: kernel and end-to-end
// throughput on this adapter, for users comparing machines (issue 16). It needs no dev dependencies: its
// own timing loop instead of tinybench, no TensorFlow.js peer (that comparison stays in bench/run.ts,
// `npm run bench`). Kernels are checked against the CPU first (selfcheck): timings of wrong results are
// worthless. Each row has GFLOP/s and/or GB/s (the minimum bytes the operation must move), and the fraction
// of the adapter's peak where the peak is known (bench-peaks.ts, or given with --peak-*).
//
// Timing: a warm-up (pipeline compilation), then samples that each queue the operation `reps` times and
// wait once (reps chosen so a sample takes ~20 ms), so sub-millisecond kernels are not timed as latency;
// whole networks run one operation per sample. `ms` is the median per operation, `minMs` the fastest.
// `gpuMs` is the kernels' time from timestamp queries where the adapter has them (CPU encoding excluded).

import { type Command, Option } from 'commander';
import { type Check, selfcheck, values } from '../api/selfcheck.js';
import { describeModel } from '../arch/describe.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import { type CifarResnetConfig, type LlmConfig, validateModelConfig } from '../io/config.js';
import { Llama } from '../nn/llama.js';
import { ParamStore } from '../nn/params.js';
import { CifarResnet } from '../nn/resnet.js';
import { acquireDevice } from '../node/device.js';
import { writeFileAtomic } from '../node/files.js';
import { conv2d, conv2dBackwardInput } from '../ops/conv/conv2d.js';
import { conv2dBackwardWeight } from '../ops/conv/conv2d-wgrad.js';
import { softmaxCrossEntropy, uploadLabels } from '../ops/index.js';
import { gemm } from '../ops/linalg/gemm.js';
import { attention, attentionBackward } from '../ops/llm/attention.js';
import { sum } from '../ops/reduce/reduce.js';
import { initLmArrays } from '../train/lm-loop.js';
import { type AdapterPeak, knownPeak } from './bench-peaks.js';
import { positive } from './common.js';
import { type CliIo, processIo } from './progress.js';

export const BENCH_GROUPS = ['gemm', 'sum', 'attention', 'conv', 'resnet', 'llama'] as const;
export type BenchGroup = (typeof BENCH_GROUPS)[number];

export interface BenchOptions {
  readonly quick?: boolean;
  readonly only?: readonly BenchGroup[];
  readonly json?: boolean;
  /** Write the JSON result to this file too. */
  readonly out?: string;
  /** The adapter's f32 peak in GFLOP/s and memory bandwidth in GB/s, when bench-peaks.ts does not know it. */
  readonly peakGflops?: number;
  readonly peakGbs?: number;
}

export interface BenchRow {
  readonly group: BenchGroup;
  readonly case: string;
  /** Median time per operation (wall clock: encoding + GPU). */
  readonly ms: number;
  readonly minMs: number;
  readonly samples: number;
  readonly reps: number;
  /** Kernel time per operation from timestamp queries, when available. */
  readonly gpuMs?: number;
  readonly gflops?: number;
  readonly gbs?: number;
  /** End-to-end rows: images/s or tokens/s. */
  readonly itemsPerS?: number;
  readonly items?: 'images' | 'tokens';
  /** gflops / peak f32, gbs / peak bandwidth, when the peak is known. */
  readonly peakFlopFraction?: number;
  readonly peakBandwidthFraction?: number;
}

export interface BenchResult {
  readonly adapter: Gpu['adapter'];
  readonly features: string[];
  readonly peak: AdapterPeak | null;
  readonly date: string;
  readonly quick: boolean;
  readonly checks: Check[];
  readonly rows: BenchRow[];
}

/** Samples per row: enough for a median, few enough for a CPU adapter. */
const SAMPLES = { quick: 2, full: 5 };
const SAMPLE_MS = 20;

interface Work {
  /** Queues one operation (may await its own steps). */
  run(): void | Promise<void>;
  /** Whole networks: one operation per sample, no rep calibration. */
  readonly long?: boolean;
}

/** `log` gets the adapter, the checks and progress; `onRow` each row as it is measured. */
export async function runBench(
  gpu: Gpu,
  opts: BenchOptions = {},
  log: (line: string) => void = () => {},
  onRow: (row: BenchRow, line: string) => void = () => {},
): Promise<BenchResult> {
  const quick = opts.quick ?? false;
  const only = new Set<BenchGroup>(opts.only ?? BENCH_GROUPS);
  const samples = quick ? SAMPLES.quick : SAMPLES.full;
  const known = knownPeak(gpu.adapter);
  const peak: AdapterPeak | null =
    opts.peakGflops !== undefined || opts.peakGbs !== undefined
      ? {
          name: 'given on the command line',
          f32Gflops: opts.peakGflops ?? known?.f32Gflops,
          bandwidthGbs: opts.peakGbs ?? known?.bandwidthGbs,
          source: '--peak-gflops / --peak-gbs',
        }
      : known;
  const a = gpu.adapter;
  log(`adapter: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ')}`);
  log(
    peak
      ? `peak: ${peak.name} (${peak.source})`
      : 'peak: unknown for this adapter (give --peak-gflops/--peak-gbs)',
  );
  // selfcheck leaves its tensors to the device's end (selfcheckCommand destroys it): a scope frees them.
  const checks = await gpu.scope(() => selfcheck(gpu));
  for (const c of checks) log(`check ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.maxRelError.toExponential(2)}`);
  const rows: BenchRow[] = [];
  const profiler = gpu.profiler;

  async function measure(
    group: BenchGroup,
    name: string,
    w: Work,
    work: { flops?: number; bytes?: number; items?: number; itemKind?: 'images' | 'tokens' },
  ): Promise<void> {
    await w.run();
    await gpu.sync();
    let reps = 1;
    if (!w.long) {
      const t0 = performance.now();
      await w.run();
      await gpu.sync();
      const once = performance.now() - t0;
      reps = Math.max(1, Math.min(500, Math.ceil(SAMPLE_MS / Math.max(once, 1e-3))));
    }
    profiler?.reset();
    const times: number[] = [];
    for (let s = 0; s < samples; s++) {
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) await w.run();
      await gpu.sync();
      times.push((performance.now() - t0) / reps);
    }
    let gpuMs: number | undefined;
    if (profiler) {
      await gpu.sync();
      const total = profiler.summary().reduce((t, r) => t + r.totalMs, 0);
      if (profiler.dropped === 0 && total > 0) gpuMs = total / (samples * reps);
    }
    times.sort((x, y) => x - y);
    const ms = times[Math.floor(times.length / 2)];
    const sec = ms / 1e3;
    const gflops = work.flops !== undefined ? work.flops / sec / 1e9 : undefined;
    const gbs = work.bytes !== undefined ? work.bytes / sec / 1e9 : undefined;
    const row: BenchRow = {
      group,
      case: name,
      ms,
      minMs: times[0],
      samples,
      reps,
      ...(gpuMs !== undefined ? { gpuMs } : {}),
      ...(gflops !== undefined ? { gflops } : {}),
      ...(gbs !== undefined ? { gbs } : {}),
      ...(work.items !== undefined ? { itemsPerS: work.items / sec, items: work.itemKind } : {}),
      ...(gflops !== undefined && peak?.f32Gflops ? { peakFlopFraction: gflops / peak.f32Gflops } : {}),
      ...(gbs !== undefined && peak?.bandwidthGbs ? { peakBandwidthFraction: gbs / peak.bandwidthGbs } : {}),
    };
    rows.push(row);
    onRow(row, formatRow(row));
  }

  /** Runs `body` with inputs made inside it freed afterwards. */
  const scoped = async (body: () => Promise<void>) => {
    await gpu.scope(body);
    gpu.pool.trim();
  };
  const fill = (shape: number[], seed: number, dtype: 'f32' | 'f16' = 'f32') =>
    gpu.tensor(
      values(
        shape.reduce((x, y) => x * y, 1),
        seed,
      ),
      shape,
      dtype,
    );
  const op = (f: () => Tensor | undefined): Work => ({ run: () => f()?.dispose() });

  if (only.has('gemm')) {
    const cases: [number, number, number][] = quick
      ? [[256, 256, 256]]
      : [
          [1024, 1024, 1024],
          [4096, 4096, 64],
          [64, 64, 16384],
        ];
    for (const [m, n, k] of cases) {
      await scoped(async () => {
        const x = fill([m, k], 1);
        const y = fill([k, n], 2);
        const work = { flops: 2 * m * n * k, bytes: 4 * (m * k + k * n + m * n) };
        await measure(
          'gemm',
          `gemm ${m}x${n}x${k} f32`,
          op(() => gemm(gpu, x, y)),
          work,
        );
        if (gpu.hasF16) {
          const xh = fill([m, k], 1, 'f16');
          const yh = fill([k, n], 2, 'f16');
          const bytes = 2 * (m * k + k * n) + 4 * m * n;
          await measure(
            'gemm',
            `gemm ${m}x${n}x${k} f16 storage`,
            op(() => gemm(gpu, xh, yh)),
            {
              flops: work.flops,
              bytes,
            },
          );
        }
      });
    }
  }

  if (only.has('sum')) {
    const count = quick ? 1 << 20 : 16 << 20;
    const mb = (count * 4) / 2 ** 20;
    await scoped(async () => {
      const big = fill([count], 3);
      const dst = gpu.empty([count]);
      // The copy reads and writes; counted as the bytes read, like the reduction (a yardstick).
      await measure(
        'sum',
        `copy ${mb} MiB (yardstick)`,
        op(() => void gpu.copy(big, dst)),
        { bytes: count * 4 },
      );
      await measure(
        'sum',
        `sum ${mb} MiB f32`,
        op(() => sum(gpu, big)),
        { bytes: count * 4 },
      );
    });
  }

  if (only.has('attention')) {
    // Causal; useful FLOPs (the visible half of QKᵀ and PV); backward counted as 2.5 forwards.
    const shapes = quick
      ? [[1, 4, 2, 64, 32]]
      : [
          [1, 8, 2, 512, 64],
          [1, 32, 8, 2048, 64],
        ];
    for (const [B, Hq, Hkv, T, D] of shapes) {
      await scoped(async () => {
        const q = fill([B, Hq, T, D], 4);
        const k = fill([B, Hkv, T, D], 5);
        const v = fill([B, Hkv, T, D], 6);
        const dO = fill([B, Hq, T, D], 7);
        const f = attention(gpu, q, k, v);
        const flops = (4 * B * Hq * D * T * (T + 1)) / 2;
        const bytes = 4 * (2 * B * Hq * T * D + 2 * B * Hkv * T * D);
        const name = `attention B${B} Hq${Hq} Hkv${Hkv} T${T} D${D}`;
        await measure(
          'attention',
          `${name} fwd`,
          {
            run: () => {
              const r = attention(gpu, q, k, v);
              r.out.dispose();
              r.lse.dispose();
            },
          },
          { flops, bytes },
        );
        await measure(
          'attention',
          `${name} bwd`,
          {
            run: () => {
              const g = attentionBackward(gpu, dO, q, k, v, f.out, f.lse);
              g.dq.dispose();
              g.dk.dispose();
              g.dv.dispose();
            },
          },
          { flops: 2.5 * flops, bytes: 2 * bytes },
        );
      });
    }
  }

  if (only.has('conv')) {
    const [n, c, h, k] = [quick ? 4 : 64, 16, 32, 3];
    await scoped(async () => {
      const x = fill([n, c, h, h], 8);
      const w = fill([c, c, k, k], 9);
      const dy = fill([n, c, h, h], 10);
      const geo = { stride: 1, padding: 1 };
      const work = { flops: 2 * n * c * h * h * c * k * k, bytes: 4 * (2 * n * c * h * h + c * c * k * k) };
      const name = `conv2d b${n} ${c}->${c} ${h}x${h} 3x3`;
      await measure(
        'conv',
        `${name} fwd`,
        op(() => conv2d(gpu, x, w, geo)),
        work,
      );
      await measure(
        'conv',
        `${name} dx`,
        op(() => conv2dBackwardInput(gpu, dy, w, x.shape, geo)),
        work,
      );
      await measure(
        'conv',
        `${name} dW`,
        op(() => conv2dBackwardWeight(gpu, x, dy, w.shape, geo)),
        work,
      );
    });
  }

  if (only.has('resnet')) await resnetRows(gpu, quick, measure);
  if (only.has('llama')) await llamaRows(gpu, quick, measure);

  return {
    adapter: gpu.adapter,
    features: [...gpu.features].sort(),
    peak,
    date: new Date().toISOString(),
    quick,
    checks,
    rows,
  };
}

type Measure = (
  group: BenchGroup,
  name: string,
  w: Work,
  work: { flops?: number; bytes?: number; items?: number; itemKind?: 'images' | 'tokens' },
) => Promise<void>;

/** CIFAR ResNet-56 (3×32×32, batch 64; quick: ResNet-20, batch 8) with PyTorch's init, eval and train. */
async function resnetRows(gpu: Gpu, quick: boolean, measure: Measure): Promise<void> {
  const depth = quick ? 20 : 56;
  const batch = quick ? 8 : 64;
  const config = validateModelConfig({
    architecture: 'cifar-resnet',
    depth,
    shortcut: 'A',
    in_channels: 3,
    num_classes: 10,
    input_size: [3, 32, 32],
    normalize: { mean: [0, 0, 0], std: [1, 1, 1] },
  }) as CifarResnetConfig;
  const desc = describeModel(config);
  let s = 56;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const params = ParamStore.init(gpu, desc, rand);
  const model = new CifarResnet(gpu, desc, params);
  const x = gpu.keep(gpu.tensor(values(batch * 3 * 32 * 32, 11), [batch, 3, 32, 32]));
  const labels = uploadLabels(
    gpu,
    Int32Array.from({ length: batch }, (_, i) => (i * 7) % 10),
    10,
  );
  // Forward MACs of the network per image (describeModel counts them), ×2 for FLOPs; backward ≈ 2 forwards.
  const fwdFlops = 2 * desc.macs * batch;
  try {
    await model.freezeForEval();
    const name = `resnet${depth} 3x32x32 b${batch}`;
    await measure(
      'resnet',
      `${name} fwd (eval, BN folded)`,
      {
        long: true,
        run: () => gpu.scope(async () => void (await model.forward(x, { mode: 'eval' })).logits),
      },
      { flops: fwdFlops, items: batch, itemKind: 'images' },
    );
    model.unfreeze();
    await measure(
      'resnet',
      `${name} fwd+bwd (train)`,
      {
        long: true,
        run: () =>
          gpu.scope(async () => {
            const { logits, saved } = await model.forward(x, { mode: 'train', updateRunningStats: false });
            const ce = softmaxCrossEntropy(gpu, logits, labels);
            if (!saved || !ce.dlogits) throw new Error('ResNet bench: train mode gave no activations');
            model.backward(saved, ce.dlogits);
          }),
      },
      { flops: 3 * fwdFlops, items: batch, itemKind: 'images' },
    );
  } finally {
    x.dispose();
    labels.dispose();
    params.dispose();
    gpu.pool.trim();
  }
}

/**
 * One decoder layer at the shape of a public model (hidden, heads, MLP), random weights, tokens/s of the
 * forward and forward + backward (every weight's gradient). Full: SmolLM2-135M's layer and
 * Llama-3.2-1B's, both at the SGLP text protocol's batch (B 4 × T 128); quick: a small layer.
 */
async function llamaRows(gpu: Gpu, quick: boolean, measure: Measure): Promise<void> {
  const shapes = quick
    ? [{ name: 'small', hidden: 64, heads: 4, kvHeads: 2, intermediate: 160, B: 2, T: 64 }]
    : [
        { name: 'SmolLM2-135M', hidden: 576, heads: 9, kvHeads: 3, intermediate: 1536, B: 4, T: 128 },
        { name: 'Llama-3.2-1B', hidden: 2048, heads: 32, kvHeads: 8, intermediate: 8192, B: 4, T: 128 },
      ];
  const vocab = 256;
  for (const sh of shapes) {
    const config = validateModelConfig({
      architectures: ['LlamaForCausalLM'],
      hidden_size: sh.hidden,
      intermediate_size: sh.intermediate,
      num_hidden_layers: 1,
      num_attention_heads: sh.heads,
      num_key_value_heads: sh.kvHeads,
      rms_norm_eps: 1e-5,
      vocab_size: vocab,
      max_position_embeddings: sh.T,
      tie_word_embeddings: true,
    }) as LlmConfig;
    const desc = describeModel(config);
    const params = ParamStore.fromArrays(gpu, desc, initLmArrays(desc, 1, 0.1));
    const net = new Llama(gpu, desc, params);
    const N = sh.B * sh.T;
    const ids = Int32Array.from({ length: N }, (_, i) => (i * 31 + 7) % vocab);
    const tokens = net.tokens(ids, sh.B, sh.T, true);
    const dH = gpu.keep(gpu.tensor(values(N * sh.hidden, 12), [N, sh.hidden]));
    const headDim = sh.hidden / sh.heads;
    // Projections 2·MACs per token, plus causal attention's useful QKᵀ and PV.
    const layerMacs = desc.units[0].macs;
    const fwdFlops = 2 * layerMacs * N + (4 * sh.B * sh.heads * headDim * sh.T * (sh.T + 1)) / 2;
    const name = `llama layer ${sh.name} (hidden ${sh.hidden}, ${sh.heads}/${sh.kvHeads} heads, mlp ${sh.intermediate}) B${sh.B} T${sh.T}`;
    try {
      await measure(
        'llama',
        `${name} fwd`,
        {
          long: true,
          run: async () => {
            const { hidden } = await net.forwardHidden(tokens);
            hidden.dispose();
          },
        },
        { flops: fwdFlops, items: N, itemKind: 'tokens' },
      );
      await measure(
        'llama',
        `${name} fwd+bwd`,
        {
          long: true,
          run: async () => {
            const { saved } = await net.forwardHidden(tokens, { train: true });
            if (!saved) throw new Error('LLaMA bench: no activations');
            const grads = net.backwardHidden(saved, dH, gpu.zeros([vocab, sh.hidden]));
            for (const g of grads.values()) g.dispose();
          },
        },
        { flops: 3 * fwdFlops, items: N, itemKind: 'tokens' },
      );
    } finally {
      tokens.dispose();
      dH.dispose();
      net.dispose();
      params.dispose();
      gpu.pool.trim();
    }
  }
}

function formatRow(r: BenchRow): string {
  const parts = [`${r.case.padEnd(44)} ${r.ms.toFixed(3).padStart(10)} ms`];
  if (r.gpuMs !== undefined) parts.push(`GPU ${r.gpuMs.toFixed(3)} ms`);
  if (r.itemsPerS !== undefined) parts.push(`${r.itemsPerS.toFixed(1)} ${r.items}/s`);
  if (r.gflops !== undefined) {
    const f = r.peakFlopFraction !== undefined ? ` (${(100 * r.peakFlopFraction).toFixed(1)}% of peak)` : '';
    parts.push(`${r.gflops.toFixed(2)} GFLOP/s${f}`);
  }
  if (r.gbs !== undefined) {
    const f =
      r.peakBandwidthFraction !== undefined
        ? ` (${(100 * r.peakBandwidthFraction).toFixed(1)}% of peak)`
        : '';
    parts.push(`${r.gbs.toFixed(2)} GB/s${f}`);
  }
  return parts.join('  ');
}

export interface BenchCliOptions {
  readonly quick?: boolean;
  readonly only?: string;
  readonly json?: boolean;
  readonly out?: string;
  readonly peakGflops?: number;
  readonly peakGbs?: number;
}

export async function benchCommand(
  opts: BenchCliOptions,
  deps: { gpu?: Gpu; io?: CliIo } = {},
): Promise<BenchResult> {
  const io = deps.io ?? processIo;
  const only = opts.only?.split(',').map((g) => g.trim()) ?? [...BENCH_GROUPS];
  for (const g of only) {
    if (!(BENCH_GROUPS as readonly string[]).includes(g)) {
      throw new Error(`--only: unknown group "${g}" (groups: ${BENCH_GROUPS.join(', ')})`);
    }
  }
  const gpu =
    deps.gpu ?? (await acquireDevice({ profile: true }).catch(() => acquireDevice({ profile: false })));
  let result: BenchResult;
  try {
    result = await runBench(
      gpu,
      {
        quick: opts.quick ?? false,
        only: only as BenchGroup[],
        ...(opts.peakGflops !== undefined ? { peakGflops: opts.peakGflops } : {}),
        ...(opts.peakGbs !== undefined ? { peakGbs: opts.peakGbs } : {}),
      },
      (line) => io.stderr(`${line}\n`),
      // Rows are the result: on stdout as they come, unless stdout is for the JSON.
      (_, line) => (opts.json ? io.stderr : io.stdout)(`${line}\n`),
    );
  } finally {
    if (!deps.gpu) gpu.destroy();
  }
  const text = `${JSON.stringify(result)}\n`;
  if (opts.out) await writeFileAtomic(opts.out, text);
  if (opts.json) io.stdout(text);
  if (!result.checks.every((c) => c.ok))
    throw new Error('self-check failed: the device computed wrong results');
  return result;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description(
      'kernel and end-to-end throughput on this adapter (GFLOP/s, GB/s, images/s, tokens/s, fraction of peak)',
    )
    .option('--quick', 'small shapes and 2 samples per row (seconds, even on a CPU adapter)')
    .option('--only <GROUPS>', `comma-separated subset of ${BENCH_GROUPS.join(',')}`)
    .option('--peak-gflops <X>', "the adapter's f32 peak in GFLOP/s, when sglp does not know it", positive)
    .option('--peak-gbs <Y>', "the adapter's memory bandwidth in GB/s, when sglp does not know it", positive)
    .option('--out <FILE>', 'also write the JSON result to FILE')
    .addOption(new Option('--json', 'print one JSON object on stdout'))
    .action(async (opts: BenchCliOptions) => {
      await benchCommand(opts);
    });
}
