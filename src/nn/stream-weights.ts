// What the layer streams (llama-stream.ts, llama-stream-grad.ts) share:
// checkpoint tensors uploaded on demand, one named group at a time, with the byte counts the memory report
// needs; rope tables per sequence length; hidden states held on the device or on the CPU between layers.

import type { LlamaNet } from '../arch/llama.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import type { TensorStore } from '../io/safetensors.js';
import { toFloat32 } from '../io/tensor-decode.js';
import { parseRopeScaling, type RopeTables, ropeTables } from '../ops/index.js';

/** A state held between layers: on the device, or its values on the CPU. */
export type HeldState = Tensor | Float32Array;

export class StreamWeights {
  /** The largest group uploaded at once, in f32 bytes. */
  largestUploadBytes = 0;
  /** Every tensor read from the checkpoint, in f32 bytes (a tensor read twice counts twice). */
  streamedBytes = 0;
  private readonly tables = new Map<number, RopeTables>();

  constructor(
    private readonly gpu: Gpu,
    private readonly net: LlamaNet,
    private readonly store: TensorStore,
    private readonly shapes: ReadonlyMap<string, readonly number[]>,
  ) {}

  /** Uploads the named tensors, labelled so that a memory error says whose they are; dispose each. */
  async load(keys: readonly string[], label: string): Promise<Map<string, Tensor>> {
    const gpu = this.gpu;
    const out = new Map<string, Tensor>();
    let bytes = 0;
    try {
      for (const key of new Set(keys)) {
        const shape = this.shapes.get(key);
        if (!shape) throw new Error(`${this.store.name}: "${key}" is not a tensor of this model`);
        const data = await this.store.float32(key, shape);
        checkFinite(data, this.store.name, key);
        const t = gpu.keep(gpu.empty(shape, 'f32', label));
        out.set(key, t);
        gpu.write(t, data);
        bytes += data.byteLength;
      }
    } catch (e) {
      for (const t of out.values()) t.dispose();
      throw e;
    }
    this.largestUploadBytes = Math.max(this.largestUploadBytes, bytes);
    this.streamedBytes += bytes;
    return out;
  }

  /**
   * The embedding rows of `batches` gathered on the CPU (one [batch·seq, hidden] array per batch): the
   * table is read as the checkpoint's bytes and decoded a block of rows at a time (every value checked,
   * never the whole f32 table in memory), never uploaded. For tables larger than one storage binding (every
   * vocabulary ≥ 0.5B models use, on lavapipe's 128 MiB) and for caps below the table's size.
   */
  async gatherRows(
    key: string,
    batches: readonly { readonly ids: ArrayLike<number> }[],
  ): Promise<Float32Array[]> {
    const shape = this.shapes.get(key) ?? [];
    if (shape.length !== 2) throw new Error(`${this.store.name}: "${key}" is not a 2-d tensor of this model`);
    const [vocab, hidden] = shape;
    const info = this.store.info(key);
    if (info.shape.join() !== shape.join()) {
      throw new Error(
        `${this.store.name}: "${key}" is [${info.shape.join(', ')}], expected [${shape.join(', ')}]`,
      );
    }
    const outs = batches.map((b) => {
      for (let i = 0; i < b.ids.length; i++) {
        const id = b.ids[i];
        if (!Number.isInteger(id) || id < 0 || id >= vocab) {
          throw new RangeError(`${key}: token ${i} has id ${id}, expected an integer in [0, ${vocab})`);
        }
      }
      return new Float32Array(b.ids.length * hidden);
    });
    const raw = await this.store.bytes(key);
    const rowBytes = (raw.byteLength / (vocab * hidden)) * hidden;
    const block = Math.max(1, Math.floor((16 << 20) / (4 * hidden)));
    for (let v0 = 0; v0 < vocab; v0 += block) {
      const v1 = Math.min(vocab, v0 + block);
      const rows = toFloat32(raw.subarray(v0 * rowBytes, v1 * rowBytes), info.dtype, this.store.name, key);
      checkFinite(rows, this.store.name, key, v0 * hidden);
      batches.forEach((b, j) => {
        for (let i = 0; i < b.ids.length; i++) {
          const id = b.ids[i];
          if (id >= v0 && id < v1)
            outs[j].set(rows.subarray((id - v0) * hidden, (id - v0 + 1) * hidden), i * hidden);
        }
      });
    }
    this.streamedBytes += 4 * vocab * hidden;
    return outs;
  }

  ropeFor(T: number): RopeTables {
    let tb = this.tables.get(T);
    if (!tb) {
      const net = this.net;
      const scaling = parseRopeScaling(net.ropeScaling);
      tb = ropeTables(
        this.gpu,
        { headDim: net.headDim, theta: net.ropeTheta, ...(scaling ? { scaling } : {}) },
        { length: T },
      );
      this.gpu.keep(tb.cos);
      this.gpu.keep(tb.sin);
      this.tables.set(T, tb);
    }
    return tb;
  }

  /** Keeps `t` on the device, or (host) reads it back and frees it. */
  async hold(t: Tensor, host: boolean): Promise<HeldState> {
    if (!host) return this.gpu.keep(t);
    try {
      return await this.gpu.readF32(t);
    } finally {
      t.dispose();
    }
  }

  /** A held state as a tensor: the device one, or a fresh upload (the caller disposes either when done). */
  use(s: HeldState, shape: readonly number[]): Tensor {
    return s instanceof Float32Array ? this.gpu.keep(this.gpu.tensor(s, shape)) : s;
  }

  dispose(): void {
    for (const tb of this.tables.values()) {
      tb.cos.dispose();
      tb.sin.dispose();
    }
    this.tables.clear();
  }
}

/** Getter over one streamed group, with a clear error for a key that was not streamed in. */
export function getter(weights: ReadonlyMap<string, Tensor>, owner: string): (key: string) => Tensor {
  return (key) => {
    const t = weights.get(key);
    if (!t) throw new Error(`${owner}: tensor "${key}" was not streamed in`);
    return t;
  };
}

export function disposeAll(weights: ReadonlyMap<string, Tensor>): void {
  for (const t of weights.values()) t.dispose();
}

/** ParamStore.load's value check, done tensor by tensor as each is read (never the whole model). */
function checkFinite(data: Float32Array, file: string, key: string, offset = 0): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new Error(
        `${file}: tensor "${key}" holds a non-finite value (${data[i]}) at element ${offset + i}`,
      );
    }
  }
}
