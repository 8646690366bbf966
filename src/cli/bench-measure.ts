// The timing loop of `sglp bench` (bench.ts): rows, how one is measured, and how it is printed. A warm-up
// (pipeline compilation), then samples that each queue the operation `reps` times and wait once (reps chosen
// so a sample takes ~20 ms); whole networks run one operation per sample. `ms` is the median per
// operation, `minMs` the fastest, `gpuMs` the kernels' time from timestamp queries where the adapter has them.

import { values } from '../api/selfcheck.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import type { AdapterPeak } from './bench-peaks.js';

export const BENCH_GROUPS = ['gemm', 'sum', 'attention', 'conv', 'resnet', 'llama'] as const;
export type BenchGroup = (typeof BENCH_GROUPS)[number];

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

/** Samples per row: enough for a median, few enough for a CPU adapter. */
export const SAMPLES = { quick: 2, full: 5 };
export const SAMPLE_MS = 20;

export interface Work {
  /** Queues one operation (may await its own steps). */
  run(): void | Promise<void>;
  /** Whole networks: one operation per sample, no rep calibration. */
  readonly long?: boolean;
}

/** What one operation does: FLOPs, the bytes it must move, the images or tokens it processes. */
export interface WorkSize {
  readonly flops?: number;
  readonly bytes?: number;
  readonly items?: number;
  readonly itemKind?: 'images' | 'tokens';
}

/** Measures one row and hands it on. */
export type Measure = (group: BenchGroup, name: string, w: Work, work: WorkSize) => Promise<void>;

/** A Measure over `gpu` taking `samples` samples a row, each row pushed to `rows` and given to `onRow`. */
export function measurer(
  gpu: Gpu,
  samples: number,
  peak: AdapterPeak | null,
  rows: BenchRow[],
  onRow: (row: BenchRow, line: string) => void,
): Measure {
  const profiler = gpu.profiler;
  return async (group, name, w, work) => {
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
  };
}

/** Helpers of the kernel rows: scoped inputs, random tensors, an op whose result is dropped. */
export function benchTools(gpu: Gpu) {
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
  return { scoped, fill, op };
}

export function formatRow(r: BenchRow): string {
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
