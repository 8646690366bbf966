// The runtime (Gpu): device, buffer pool, pipeline cache, batched dispatches with per-dispatch uniforms,
// readback and profiling. A Gpu comes from acquireDevice (device.ts).

import { decodeF16, encodeF16 } from '../num/half.js';
import { batching } from '../tunables.js';
import type { AcquireOptions, AdapterSummary, Waiter } from './device.js';
import { DeviceLostError, KernelError } from './errors.js';
import { BufferUsage } from './flags.js';
import type { KernelChoice } from './kernel-choice.js';
import { type KernelSpec, PipelineCache, pipelineKey } from './pipelines.js';
import { BufferPool } from './pool.js';
import { Profiler } from './profiler.js';
import { Staging } from './staging.js';
import { bytesPerElement, type DType, sizeOf, Tensor } from './tensor.js';
import { type PackTarget, packTarget, type UniformDecl, type UniformValues } from './uniforms.js';

export type TypedArray = Float32Array | Int32Array | Uint32Array;

/**
 * One kernel launch: bindings 0..n-1 are the storage buffers in order, binding n the uniforms, given by
 * name as the kernel's `params` declares them (packed here; a mismatch is a UniformError naming the field).
 */
export interface Dispatch<D extends UniformDecl = UniformDecl> {
  kernel: KernelSpec<D>;
  buffers: readonly (Tensor | GPUBuffer)[];
  uniforms?: NoInfer<UniformValues<D>>;
  workgroups: readonly [number, number?, number?];
}

/**
 * The runtime: device, buffer pool, pipeline cache, batched dispatches with per-dispatch uniforms,
 * readback and profiling. Dispatches are recorded into one encoder and submitted together at a sync
 * point (read, sync) or when the batch is full.
 */
export class Gpu {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  readonly features: ReadonlySet<string>;
  readonly limits: GPUSupportedLimits;
  readonly profiler: Profiler | undefined;
  /** Dispatches and submits so far (for reports and tests). */
  readonly counters = { dispatches: 0, submits: 0 };
  /** Kernel family choice (src/gpu/kernel-choice.ts); tests and benchmarks may change it. */
  kernels: KernelChoice;

  private readonly staging: Staging;
  private readonly uniformArena: GPUBuffer;
  private readonly uniformBytes = new Uint8Array(batching.uniformArenaBytes);
  private readonly uniformWords: PackTarget = packTarget(this.uniformBytes.buffer);
  private uniformOffset = 0;
  private encoder: GPUCommandEncoder | undefined;
  /** The compute pass dispatches are being recorded into (batching.sharedPass), ended before anything else. */
  private pass: GPUComputePassEncoder | undefined;
  /** getBindGroupLayout returns a new object per call (a native round trip in dawn.node): once per pipeline. */
  private readonly layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
  private batchKernels: string[] = [];
  private readonly pendingErrors: Promise<void>[] = [];
  private lostError: DeviceLostError | undefined;
  private uncaptured: Error | undefined;
  private readonly scopes: Set<Tensor>[] = [];
  private readonly pendingRejects = new Set<(e: Error) => void>();
  private readonly waiter: Waiter;

  constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterSummary,
    /** Keeps the GPU instance and adapter reachable: dawn.node crashes if they are collected while in use. */
    private readonly keepAlive: readonly unknown[],
    options: AcquireOptions = {},
  ) {
    this.features = new Set(device.features as unknown as Iterable<string>);
    this.limits = device.limits;
    this.pool = new BufferPool(device, device.limits.maxStorageBufferBindingSize);
    this.pool.memoryCap = options.memoryCap;
    this.waiter = options.waiter ?? ((p) => p);
    this.kernels = options.kernels ?? 'auto';
    this.pipelines = new PipelineCache(device);
    this.staging = new Staging(device);
    this.uniformArena = device.createBuffer({
      size: batching.uniformArenaBytes,
      usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
      label: 'uniforms',
    });
    if (options.profile) {
      if (!this.features.has('timestamp-query'))
        throw new Error('profiling needs the timestamp-query feature');
      this.profiler = new Profiler(device);
    }
    device.lost.then((info) => {
      const error = new DeviceLostError(info.reason, info.message);
      for (const reject of this.pendingRejects) reject(error);
      if (info.reason === 'destroyed' && this.keepAlive.length === 0) return;
      this.lostError = error;
      options.onLost?.(error);
    });
    device.addEventListener('uncapturederror', (event) => {
      this.uncaptured ??= new Error((event as GPUUncapturedErrorEvent).error.message);
    });
  }

  get hasF16(): boolean {
    return this.features.has('shader-f16');
  }

  /** The subgroup size when it is fixed and the subgroups feature is on, else 0. */
  get fixedSubgroupSize(): number {
    const { subgroupMinSize: min, subgroupMaxSize: max } = this.adapter;
    return this.features.has('subgroups') && min > 0 && min === max ? min : 0;
  }

  // ---- tensors --------------------------------------------------------------------------------------

  /** An uninitialised tensor (contents are whatever the pooled buffer held). */
  empty(shape: readonly number[], dtype: DType = 'f32', label?: string): Tensor {
    this.checkAlive();
    const bytes = Math.max(4, sizeOf(shape) * bytesPerElement[dtype]);
    const t = new Tensor(this, shape, dtype, this.pool.acquire(bytes, label));
    this.scopes.at(-1)?.add(t);
    return t;
  }

  /** Uploads data (f16 tensors take f32 values and are converted here). */
  tensor(data: ArrayLike<number>, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    const n = sizeOf(shape);
    if (data.length !== n) {
      throw new Error(`tensor data has ${data.length} values but shape [${shape.join(', ')}] needs ${n}`);
    }
    const t = this.empty(shape, dtype);
    this.write(t, data);
    return t;
  }

  zeros(shape: readonly number[], dtype: DType = 'f32'): Tensor {
    const t = this.empty(shape, dtype);
    this.record((encoder) => encoder.clearBuffer(t.buffer, 0, t.buffer.size));
    return t;
  }

  /** Overwrites a tensor's contents. Flushes first: queue writes would overtake recorded dispatches. */
  write(t: Tensor, data: ArrayLike<number>): void {
    this.checkAlive();
    if (data.length !== t.size) throw new Error(`write: ${data.length} values for a tensor of ${t.size}`);
    this.submit();
    let bytes: ArrayBufferView;
    if (t.dtype === 'f16') bytes = encodeF16(data instanceof Float32Array ? data : Float32Array.from(data));
    else if (t.dtype === 'f32') bytes = data instanceof Float32Array ? data : Float32Array.from(data);
    else if (t.dtype === 'i32') bytes = data instanceof Int32Array ? data : Int32Array.from(data);
    else bytes = data instanceof Uint32Array ? data : Uint32Array.from(data);
    const padded = Math.ceil(bytes.byteLength / 4) * 4;
    if (padded === bytes.byteLength) {
      this.device.queue.writeBuffer(t.buffer, 0, bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } else {
      const copy = new Uint8Array(padded);
      copy.set(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      this.device.queue.writeBuffer(t.buffer, 0, copy);
    }
  }

  /** Reads a tensor back (f16 comes back as f32). */
  async read(t: Tensor): Promise<TypedArray> {
    if (t.isDisposed) throw new Error('read: tensor was disposed');
    await this.sync();
    const raw = await this.guard(this.staging.read(t.buffer, 0, t.byteLength));
    if (t.dtype === 'f16') return decodeF16(new Uint16Array(raw));
    if (t.dtype === 'i32') return new Int32Array(raw);
    if (t.dtype === 'u32') return new Uint32Array(raw);
    return new Float32Array(raw);
  }

  async readF32(t: Tensor): Promise<Float32Array> {
    const data = await this.read(t);
    return data instanceof Float32Array ? data : Float32Array.from(data);
  }

  /**
   * Runs fn and disposes every tensor it created except those in its result (a Tensor, or arrays and
   * plain objects holding them). Scopes nest; do not interleave two async scopes.
   */
  async scope<T>(fn: () => T | Promise<T>): Promise<T> {
    const created = new Set<Tensor>();
    this.scopes.push(created);
    let result: T;
    try {
      result = await fn();
    } finally {
      this.scopes.pop();
    }
    const kept = new Set<Tensor>();
    collectTensors(result, kept);
    for (const t of created) {
      if (kept.has(t)) this.scopes.at(-1)?.add(t);
      else t.dispose();
    }
    return result;
  }

  /** Takes a tensor out of the enclosing scopes, so it outlives them (state that persists across steps). */
  keep<T extends Tensor>(t: T): T {
    for (const scope of this.scopes) scope.delete(t);
    return t;
  }

  // ---- dispatch -------------------------------------------------------------------------------------

  dispatch<D extends UniformDecl>(d: Dispatch<D>): void {
    this.checkAlive();
    const name = pipelineKey(d.kernel);
    const params = d.kernel.params;
    if (!params !== !d.uniforms) {
      throw new KernelError(
        name,
        params ? 'declares uniforms but the dispatch gives none' : 'declares no uniforms',
      );
    }
    const pipeline = this.pipelines.get(d.kernel);
    const entries: GPUBindGroupEntry[] = d.buffers.map((b, binding) => ({
      binding,
      resource: { buffer: b instanceof Tensor ? b.buffer : b },
    }));
    if (params && d.uniforms) {
      const size = params.byteLength;
      const offset = this.reserveUniforms(size);
      params.pack(d.uniforms, this.uniformWords, offset / 4);
      entries.push({ binding: entries.length, resource: { buffer: this.uniformArena, offset, size } });
    }
    const [x, y = 1, z = 1] = d.workgroups;
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max || x * y * z === 0) {
      throw new KernelError(
        name,
        `cannot dispatch ${x}x${y}x${z} workgroups (limit ${max} per dimension, none zero)`,
      );
    }
    this.record((encoder) => {
      // Inside the batch's error scope: an invalid pipeline's layout error belongs to this batch.
      const layout = this.layoutOf(pipeline);
      const bindGroup = this.device.createBindGroup({ layout, entries, label: name });
      const timestampWrites = this.profiler?.passWrites(name);
      // One compute pass for a run of dispatches (batching.sharedPass): dispatches in a pass still see
      // each other's writes; per-kernel timestamps need a pass of their own.
      const shared = batching.sharedPass[this.adapter.isCpu ? 'cpu' : 'gpu'] && !timestampWrites;
      if (shared && !this.pass) this.pass = encoder.beginComputePass({ label: 'batch' });
      const pass =
        shared && this.pass
          ? this.pass
          : encoder.beginComputePass(timestampWrites ? { label: name, timestampWrites } : { label: name });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(x, y, z);
      if (!shared) pass.end();
    }, name);
    this.counters.dispatches++;
    if (this.batchKernels.length >= batching.maxDispatches) this.submit();
  }

  /** Records a copy of `bytes` bytes between tensors (offsets in bytes, multiples of 4) into the batch. */
  copy(
    src: Tensor,
    dst: Tensor,
    bytes = Math.min(src.byteLength, dst.byteLength),
    srcOffset = 0,
    dstOffset = 0,
  ): void {
    if (srcOffset + bytes > src.buffer.size || dstOffset + bytes > dst.buffer.size) {
      throw new Error(`copy: ${bytes} bytes at offsets ${srcOffset} -> ${dstOffset} run past a buffer`);
    }
    const n = Math.ceil(bytes / 4) * 4;
    this.record((encoder) => encoder.copyBufferToBuffer(src.buffer, srcOffset, dst.buffer, dstOffset, n));
  }

  /** Submits the current batch (if any); errors surface at the next sync(). */
  submit(): void {
    const encoder = this.encoder;
    if (!encoder) {
      this.pool.collect();
      return;
    }
    this.endPass();
    this.encoder = undefined;
    if (this.uniformOffset > 0) {
      this.device.queue.writeBuffer(this.uniformArena, 0, this.uniformBytes, 0, this.uniformOffset);
      this.uniformOffset = 0;
    }
    this.profiler?.encodeResolve(encoder);
    this.device.queue.submit([encoder.finish()]);
    this.pool.collect(); // destroying after the submit lets the submitted work finish with its buffers
    this.counters.submits++;
    const kernels = this.batchKernels;
    this.batchKernels = [];
    const oom = this.device.popErrorScope();
    const validation = this.device.popErrorScope();
    const check = Promise.all([validation, oom]).then(([v, o]) => {
      const error = v ?? o;
      if (error) throw batchError(error.message, kernels);
    });
    check.catch(() => {}); // thrown by the next sync(): until then a rejection is not "unhandled"
    this.pendingErrors.push(check);
  }

  /** Submits, waits for the GPU, and throws the first error of anything submitted since the last sync. */
  async sync(): Promise<void> {
    this.submit();
    const compileError = await this.guard(this.pipelines.firstError());
    const pending = await this.guard(Promise.allSettled(this.pendingErrors.splice(0)));
    if (compileError) throw compileError;
    const failed = pending.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    await this.guard(this.device.queue.onSubmittedWorkDone());
    if (this.uncaptured) {
      const e = this.uncaptured;
      this.uncaptured = undefined;
      throw e;
    }
    if (this.profiler) await this.guard(this.profiler.drain());
  }

  /** Waits for a promise of this device the runtime's way (AcquireOptions.waiter), e.g. a peer's on the same device. */
  wait<T>(p: Promise<T>): Promise<T> {
    return this.waiter(p);
  }

  /** Releases the device; the Node process can exit once this is done. */
  destroy(): void {
    this.pass = undefined;
    this.encoder = undefined;
    this.pool.trim();
    this.staging.destroy();
    (this.keepAlive as unknown[]).length = 0;
    this.device.destroy();
  }

  // ---- internals ------------------------------------------------------------------------------------

  /** Records into the batch: a dispatch (its kernel named) or, without a name, a copy or clear. */
  private record(fn: (encoder: GPUCommandEncoder) => void, kernel?: string): void {
    if (!this.encoder) {
      this.device.pushErrorScope('validation');
      this.device.pushErrorScope('out-of-memory');
      this.encoder = this.device.createCommandEncoder({ label: 'batch' });
    }
    if (kernel === undefined) this.endPass(); // copies and clears are recorded outside compute passes
    fn(this.encoder);
    this.batchKernels.push(kernel ?? 'copy');
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }

  private layoutOf(pipeline: GPUComputePipeline): GPUBindGroupLayout {
    let layout = this.layouts.get(pipeline);
    if (!layout) {
      layout = pipeline.getBindGroupLayout(0);
      this.layouts.set(pipeline, layout);
    }
    return layout;
  }

  /** Room for `bytes` of uniforms in the arena (submitting the batch when it is full): its byte offset. */
  private reserveUniforms(bytes: number): number {
    const align = this.limits.minUniformBufferOffsetAlignment;
    const size = Math.ceil(bytes / align) * align;
    if (this.uniformOffset + size > this.uniformBytes.length) this.submit();
    const offset = this.uniformOffset;
    this.uniformOffset += size;
    return offset;
  }

  private checkAlive(): void {
    if (this.lostError) throw this.lostError;
  }

  /** Waits the waiter's way; rejects with the device-lost error instead of hanging when the device goes away. */
  private guard<T>(p: Promise<T>): Promise<T> {
    this.checkAlive();
    return this.waiter(
      new Promise<T>((resolve, reject) => {
        this.pendingRejects.add(reject);
        p.then(resolve, reject).finally(() => this.pendingRejects.delete(reject));
      }),
    );
  }
}

function batchError(message: string, kernels: readonly string[]): Error {
  const named = kernels.find((k) => message.includes(k));
  if (named) return new KernelError(named, message);
  const unique = [...new Set(kernels)];
  return new KernelError(unique.length === 1 ? unique[0] : `one of ${unique.join(', ')}`, message);
}

function collectTensors(value: unknown, out: Set<Tensor>): void {
  if (value instanceof Tensor) out.add(value);
  else if (Array.isArray(value)) for (const v of value) collectTensors(v, out);
  else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, out);
  }
}
