import { pool as tun } from '../tunables.js';
import { BufferUsage } from './flags.js';

const usage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

/** An allocation would take the live buffers past the pool's memory cap. */
export class DeviceMemoryError extends Error {
  constructor(
    readonly label: string,
    readonly requested: number,
    readonly cap: number,
    readonly live: number,
    holders: string,
  ) {
    super(
      `${label}: allocating ${requested} bytes would exceed the device-memory cap of ${cap} bytes ` +
        `(${live} bytes already live: ${holders})`,
    );
    this.name = 'DeviceMemoryError';
  }
}

/** Rounds a byte size up to its bucket: stepsPerOctave steps between powers of two, 16-byte aligned. */
export function bucketSize(bytes: number): number {
  const n = Math.max(bytes, tun.minBytes);
  const octave = 2 ** Math.floor(Math.log2(n));
  const step = octave / tun.stepsPerOctave;
  const size = Math.ceil(n / step) * step;
  return Math.ceil(size / 16) * 16;
}

/**
 * Storage buffers by bucket size; freed buffers are reused, beyond maxFreeBytes they are destroyed. A
 * buffer released while recorded (not yet submitted) work still uses it must not be destroyed yet, so
 * destruction waits for the runtime's next submit (collect()).
 */
export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private freeBytes = 0;
  private doomed: GPUBuffer[] = [];
  /** Free bytes kept for reuse; more is destroyed after the next submit. */
  maxFreeBytes = tun.maxFreeBytes;
  /** Bytes currently handed out, and the most ever handed out at once. */
  liveBytes = 0;
  peakBytes = 0;
  /**
   * Most bytes the live buffers may hold at once (undefined: no cap, only the device's own limit); an
   * acquire past it is a DeviceMemoryError. Free pooled buffers are dropped rather than kept over it.
   */
  memoryCap: number | undefined;
  /** Label of every live buffer, to say what holds memory when the cap is hit. */
  private readonly liveLabels = new Map<GPUBuffer, string>();

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBinding: number,
  ) {}

  acquire(bytes: number, label = 'tensor'): GPUBuffer {
    const size = bucketSize(bytes);
    if (size > this.maxBinding) {
      throw new Error(
        `${label}: ${bytes} bytes exceed the adapter's largest storage binding (${this.maxBinding} bytes)`,
      );
    }
    const cap = this.memoryCap;
    if (cap !== undefined && this.liveBytes + size > cap) {
      throw new DeviceMemoryError(label, size, cap, this.liveBytes, this.holders());
    }
    const reused = this.free.get(size)?.pop();
    if (reused) this.freeBytes -= size;
    else if (cap !== undefined && this.liveBytes + this.freeBytes + size > cap) this.dropFree();
    const buffer = reused ?? this.device.createBuffer({ size, usage, label });
    this.liveLabels.set(buffer, label);
    this.liveBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    this.liveBytes -= buffer.size;
    this.liveLabels.delete(buffer);
    if (this.freeBytes + buffer.size > this.maxFreeBytes) {
      this.doomed.push(buffer);
      return;
    }
    const list = this.free.get(buffer.size) ?? [];
    list.push(buffer);
    this.free.set(buffer.size, list);
    this.freeBytes += buffer.size;
  }

  /** Live bytes by label, largest first, e.g. "3 tensor buffers 1200 bytes, 1 cka stacked grams 64 bytes". */
  holders(): string {
    const by = new Map<string, { count: number; bytes: number }>();
    for (const [b, label] of this.liveLabels) {
      const e = by.get(label) ?? { count: 0, bytes: 0 };
      e.count++;
      e.bytes += b.size;
      by.set(label, e);
    }
    if (by.size === 0) return 'nothing';
    return [...by]
      .sort((a, b) => b[1].bytes - a[1].bytes)
      .map(([label, e]) => `${e.count} ${label} buffer${e.count === 1 ? '' : 's'} ${e.bytes} bytes`)
      .join(', ');
  }

  /** Restarts peak tracking from the current live bytes (to measure one phase). */
  resetPeak(): void {
    this.peakBytes = this.liveBytes;
  }

  /** Hands every free buffer to destruction at the next submit (work recorded so far may still use them). */
  private dropFree(): void {
    for (const list of this.free.values()) this.doomed.push(...list);
    this.free.clear();
    this.freeBytes = 0;
  }

  /** Destroys the buffers released beyond the cap; call only once the work using them is submitted. */
  collect(): void {
    for (const b of this.doomed) b.destroy();
    this.doomed = [];
  }

  /** Buffers waiting for collect(). */
  get pendingDestroy(): number {
    return this.doomed.length;
  }

  /** Destroys every free buffer (live ones stay with their tensors). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.freeBytes = 0;
    this.collect();
  }
}
