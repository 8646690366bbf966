import { staging as tun } from '../tunables.js';
import { BufferUsage, MapMode } from './flags.js';

/**
 * Readback through one long-lived MAP_READ buffer, copied out with TypedArray.set before unmap: creating a
 * MAP_READ buffer per readback crashes dawn.node on lavapipe (docs/kernels.md, "Runtime hazards"). Reads are
 * serialised; a read larger than the buffer goes in chunks, and the buffer only grows.
 */
export class Staging {
  private buffer: GPUBuffer | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly device: GPUDevice) {}

  /** Copies `bytes` bytes of `source` from `offset` into a new ArrayBuffer. */
  read(source: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    const result = this.chain.then(() => this.readNow(source, offset, bytes));
    this.chain = result.catch(() => undefined);
    return result;
  }

  private async readNow(source: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    const out = new Uint8Array(bytes);
    const padded = Math.ceil(bytes / 4) * 4;
    const chunk = Math.min(tun.chunkBytes, padded);
    const staging = this.ensure(chunk);
    for (let at = 0; at < padded; at += chunk) {
      const n = Math.min(chunk, padded - at);
      const encoder = this.device.createCommandEncoder({ label: 'readback' });
      encoder.copyBufferToBuffer(source, offset + at, staging, 0, n);
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(MapMode.READ, 0, n);
      const valid = Math.min(n, bytes - at);
      out.set(new Uint8Array(staging.getMappedRange(0, n), 0, valid), at);
      staging.unmap();
    }
    return out.buffer;
  }

  private ensure(bytes: number): GPUBuffer {
    if (this.buffer && this.buffer.size >= bytes) return this.buffer;
    this.buffer?.destroy();
    const size = 2 ** Math.ceil(Math.log2(Math.max(bytes, 1 << 20)));
    this.buffer = this.device.createBuffer({
      size: Math.min(size, Math.max(bytes, tun.chunkBytes)),
      usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
      label: 'staging',
    });
    return this.buffer;
  }

  destroy(): void {
    this.buffer?.destroy();
    this.buffer = undefined;
  }
}
