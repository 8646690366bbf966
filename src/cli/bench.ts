// `sglp bench [--quick] [--only GROUPS] [--peak-gflops X --peak-gbs Y] [--json]`: kernel and end-to-end
// throughput on this adapter, for users comparing machines (issue 16). It needs no dev dependencies: its
// own timing loop instead of tinybench, no TensorFlow.js peer (that comparison stays in bench/run.ts,
// `npm run bench`). Kernels are checked against the CPU first (selfcheck): timings of wrong results are
// worthless. Each row has GFLOP/s and/or GB/s (the minimum bytes the operation must move), and the fraction
// of the adapter's peak where the peak is known (bench-peaks.ts, or given with --peak-*).
//
// Timing (bench-measure.ts): a warm-up (pipeline compilation), then samples that each queue the operation
// `reps` times and wait once (reps chosen so a sample takes ~20 ms), so sub-millisecond kernels are not
// timed as latency; whole networks run one operation per sample. `ms` is the median per operation, `minMs`
// the fastest. `gpuMs` is the kernels' time from timestamp queries where the adapter has them (CPU
// encoding excluded). The rows: kernels (bench-kernels.ts), a ResNet and a LLaMA layer (bench-models.ts).

import { type Command, Option } from 'commander';
import { type Check, selfcheck } from '../api/selfcheck.js';
import type { Gpu } from '../gpu/device.js';
import { acquireDevice } from '../node/device.js';
import { writeFileAtomic } from '../node/files.js';
import { kernelRows } from './bench-kernels.js';
import { BENCH_GROUPS, type BenchGroup, type BenchRow, measurer, SAMPLES } from './bench-measure.js';
import { llamaRows, resnetRows } from './bench-models.js';
import { type AdapterPeak, knownPeak } from './bench-peaks.js';
import { positive } from './common.js';
import { type CliIo, processIo } from './progress.js';

export { BENCH_GROUPS, type BenchGroup, type BenchRow } from './bench-measure.js';

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

export interface BenchResult {
  readonly adapter: Gpu['adapter'];
  readonly features: string[];
  readonly peak: AdapterPeak | null;
  readonly date: string;
  readonly quick: boolean;
  readonly checks: Check[];
  readonly rows: BenchRow[];
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
  const measure = measurer(gpu, samples, peak, rows, onRow);
  await kernelRows(gpu, quick, only, measure);
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
