import { pool as tun } from '../tunables.js';
import { BufferUsage } from './flags.js';

const usage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

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
    const reused = this.free.get(size)?.pop();
    if (reused) this.freeBytes -= size;
    const buffer = reused ?? this.device.createBuffer({ size, usage, label });
    this.liveBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    this.liveBytes -= buffer.size;
    if (this.freeBytes + buffer.size > this.maxFreeBytes) {
      this.doomed.push(buffer);
      return;
    }
    const list = this.free.get(buffer.size) ?? [];
    list.push(buffer);
    this.free.set(buffer.size, list);
    this.freeBytes += buffer.size;
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
