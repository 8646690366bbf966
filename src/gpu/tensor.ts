import type { Gpu } from './device.js';

export type DType = 'f32' | 'f16' | 'i32' | 'u32';

export const bytesPerElement: Record<DType, number> = { f32: 4, f16: 2, i32: 4, u32: 4 };

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A dense, row-major array on the device. Its buffer comes from the pool and goes back on dispose. */
export class Tensor {
  readonly size: number;
  private disposed = false;

  constructor(
    readonly gpu: Gpu,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly buffer: GPUBuffer,
    /** Views share another tensor's buffer and never return it to the pool. */
    readonly ownsBuffer = true,
  ) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`invalid tensor shape [${shape.join(', ')}]`);
    }
    this.size = sizeOf(shape);
  }

  /** Bytes of data (the buffer may be larger: pool buckets round up). */
  get byteLength(): number {
    return this.size * bytesPerElement[this.dtype];
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Same data, another shape with the same element count; shares the buffer (dispose only one). */
  reshape(shape: readonly number[]): Tensor {
    if (sizeOf(shape) !== this.size) {
      throw new Error(`cannot reshape [${this.shape.join(', ')}] to [${shape.join(', ')}]`);
    }
    return new Tensor(this.gpu, shape, this.dtype, this.buffer, false);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.ownsBuffer) this.gpu.pool.release(this.buffer);
  }

  read(): Promise<Float32Array | Int32Array | Uint32Array> {
    return this.gpu.read(this);
  }
}
