import { BufferUsage, MapMode } from './flags.js';

interface Row {
  kernel: string;
  calls: number;
  ns: number;
}

/** Passes per resolve region: 16 passes x 2 stamps x 8 bytes keeps resolve offsets 256-byte aligned. */
const ALIGN = 16;

/**
 * Per-kernel GPU time from timestamp queries. Each profiled pass writes a begin and an end stamp; stamps
 * are resolved on the GPU at each submit and read back in drain(), which the runtime calls at sync points
 * (a pass recorded while the query set is full is simply not timed, and counted as dropped).
 */
export class Profiler {
  private readonly rows = new Map<string, Row>();
  private readonly querySet: GPUQuerySet;
  private readonly resolved: GPUBuffer;
  private readonly readback: GPUBuffer;
  private labels: string[] = [];
  private batchStart = 0;
  dropped = 0;

  constructor(
    private readonly device: GPUDevice,
    /** Passes timed between drains; the query set holds two stamps each (WebGPU allows 4096). */
    private readonly capacity = 2048,
  ) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * capacity, label: 'profiler' });
    const size = 16 * capacity;
    this.resolved = device.createBuffer({ size, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
    this.readback = device.createBuffer({ size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  }

  /** Timestamp writes for the next pass of `kernel`, or undefined when the query set is full. */
  passWrites(kernel: string): GPUComputePassTimestampWrites | undefined {
    const i = this.labels.length;
    if (i >= this.capacity) {
      this.dropped++;
      return undefined;
    }
    this.labels.push(kernel);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Resolves this batch's stamps into the GPU-side buffer; called just before the batch is submitted. */
  encodeResolve(encoder: GPUCommandEncoder): void {
    const end = this.labels.length;
    if (end === this.batchStart) return;
    encoder.resolveQuerySet(
      this.querySet,
      2 * this.batchStart,
      2 * (end - this.batchStart),
      this.resolved,
      16 * this.batchStart,
    );
    const padded = Math.min(this.capacity, Math.ceil(end / ALIGN) * ALIGN);
    while (this.labels.length < padded) this.labels.push('');
    this.batchStart = padded;
  }

  /** Reads the resolved stamps back and adds them to the per-kernel rows. */
  async drain(): Promise<void> {
    const n = this.batchStart;
    // Only between batches: stamps of passes recorded but not yet submitted keep their query indices.
    if (n === 0 || this.labels.length !== n) return;
    const labels = this.labels;
    this.labels = [];
    this.batchStart = 0;
    const encoder = this.device.createCommandEncoder({ label: 'profiler drain' });
    encoder.copyBufferToBuffer(this.resolved, 0, this.readback, 0, 16 * n);
    this.device.queue.submit([encoder.finish()]);
    await this.readback.mapAsync(MapMode.READ, 0, 16 * n);
    const stamps = new BigInt64Array(2 * n);
    stamps.set(new BigInt64Array(this.readback.getMappedRange(0, 16 * n)));
    this.readback.unmap();
    labels.forEach((kernel, i) => {
      if (!kernel) return;
      const row = this.rows.get(kernel) ?? { kernel, calls: 0, ns: 0 };
      row.calls++;
      row.ns += Math.max(0, Number(stamps[2 * i + 1] - stamps[2 * i]));
      this.rows.set(kernel, row);
    });
  }

  /** Forgets the rows collected so far (stamps not yet drained stay pending). */
  reset(): void {
    this.rows.clear();
    this.dropped = 0;
  }

  /** Rows sorted by total time, slowest first. */
  summary(): { kernel: string; calls: number; totalMs: number; meanUs: number }[] {
    return [...this.rows.values()]
      .sort((a, b) => b.ns - a.ns)
      .map((r) => ({ kernel: r.kernel, calls: r.calls, totalMs: r.ns / 1e6, meanUs: r.ns / 1e3 / r.calls }));
  }

  /** Numbers first: kernel names carry their whole specialisation and can be long. */
  table(): string {
    const rows = this.summary();
    const lines = rows.map(
      (r) =>
        `${String(r.calls).padStart(6)}  ${r.totalMs.toFixed(3).padStart(10)}  ${r.meanUs.toFixed(1).padStart(10)}  ${r.kernel}`,
    );
    const head = `${'calls'.padStart(6)}  ${'total ms'.padStart(10)}  ${'mean us'.padStart(10)}  kernel`;
    const foot = this.dropped > 0 ? [`(${this.dropped} passes not timed: query set full between syncs)`] : [];
    return [head, ...lines, ...foot].join('\n');
  }
}
