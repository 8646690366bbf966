// A model's tensors on the GPU, by state-dict name: learned weights and biases, and the BN running
// statistics (buffers: read in eval mode, updated in place by training). Shapes are exactly those of the
// ModelDescription; a checkpoint is checked against it (checkStateDict) before anything is uploaded.

import { checkStateDict } from '../arch/state-dict.js';
import type { ModelDescription, ParamSpec } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { DType, Tensor } from '../gpu/tensor.js';
import type { TensorStore } from '../io/safetensors.js';

/**
 * How weights are held on the device. 'f16': every matrix (rank-2 weight: linear layers, LM head,
 * embedding table) is stored as f16, half the memory; the GEMMs widen it and accumulate in f32, so
 * activations, norms, biases and gradients stay f32. Needs the adapter feature shader-f16. Only the LLaMA
 * family runs on it (its matrices all go through linear/embedding); the CLI refuses it for image models.
 */
export type Precision = 'f32' | 'f16';

export const PRECISIONS: readonly Precision[] = ['f32', 'f16'];

export interface LoadOptions {
  /** Read every value and reject NaN/Inf and negative running variances (default true). */
  readonly checkValues?: boolean;
  /** Storage of the weight matrices (default 'f32'). */
  readonly precision?: Precision;
}

/** The device dtype of one tensor under a precision (a pure rule, tested on its own). */
export function storageDType(spec: ParamSpec, precision: Precision): DType {
  return precision === 'f16' && spec.kind === 'weight' && spec.shape.length === 2 ? 'f16' : 'f32';
}

/** Largest finite float16. */
const F16_MAX = 65504;

/** True for tensors an optimiser updates (weights and biases), false for BN running statistics. */
export function isTrainable(spec: ParamSpec): boolean {
  return spec.kind === 'weight' || spec.kind === 'bias';
}

export class ParamStore {
  private readonly tensors = new Map<string, Tensor>();
  private disposed = false;
  private writes = 0;

  private constructor(
    readonly gpu: Gpu,
    readonly desc: ModelDescription,
    readonly precision: Precision = 'f32',
  ) {
    if (precision === 'f16' && !gpu.hasF16) {
      throw new Error(
        `${desc.name}: precision f16 needs the adapter feature shader-f16, which ${gpu.adapter.description || 'this adapter'} lacks (use precision f32)`,
      );
    }
  }

  /** Loads every tensor of `desc` from a checkpoint; a missing or mis-shaped key is a StateDictError. */
  static async load(
    gpu: Gpu,
    desc: ModelDescription,
    store: TensorStore,
    options: LoadOptions = {},
  ): Promise<ParamStore> {
    const ps = new ParamStore(gpu, desc, options.precision);
    await checkStateDict(desc, store, { values: options.checkValues ?? true });
    try {
      for (const p of desc.params) ps.set(p, await store.float32(p.key, p.shape));
    } catch (e) {
      ps.dispose();
      throw e;
    }
    return ps;
  }

  /** From arrays in memory (tests, fresh initialisations); every key of `desc` must be given. */
  static fromArrays(
    gpu: Gpu,
    desc: ModelDescription,
    arrays: Readonly<Record<string, ArrayLike<number>>>,
    options: Pick<LoadOptions, 'precision'> = {},
  ): ParamStore {
    const ps = new ParamStore(gpu, desc, options.precision);
    for (const p of desc.params) {
      const data = arrays[p.key];
      if (!data) {
        ps.dispose();
        throw new Error(`${desc.name}: no values for "${p.key}" (expected shape [${p.shape.join(', ')}])`);
      }
      try {
        ps.set(p, data);
      } catch (e) {
        ps.dispose();
        throw e;
      }
    }
    return ps;
  }

  /**
   * PyTorch's default initialisation for these layers: conv/linear weights kaiming-uniform(a=√5), i.e.
   * U(±1/√fanIn), biases U(±1/√fanIn), BN weight 1, bias 0, running mean 0, running variance 1.
   * `random` returns values uniform in [0, 1) (seed it for reproducible models).
   */
  static init(gpu: Gpu, desc: ModelDescription, random: () => number): ParamStore {
    const arrays: Record<string, Float32Array> = {};
    const fanIn = new Map<string, number>();
    for (const p of desc.params) {
      if (p.kind === 'weight' && p.shape.length > 1) {
        fanIn.set(
          p.key.slice(0, -'.weight'.length),
          p.shape.slice(1).reduce((a, d) => a * d, 1),
        );
      }
    }
    for (const p of desc.params) {
      const n = p.shape.reduce((a, d) => a * d, 1);
      const a = new Float32Array(n);
      const prefix = p.key.slice(0, p.key.lastIndexOf('.'));
      const fan = fanIn.get(prefix);
      if (fan !== undefined && (p.kind === 'weight' || p.kind === 'bias')) {
        const bound = 1 / Math.sqrt(fan);
        for (let i = 0; i < n; i++) a[i] = (2 * random() - 1) * bound;
      } else if (p.kind === 'weight' || p.kind === 'running_var') a.fill(1);
      arrays[p.key] = a;
    }
    return ParamStore.fromArrays(gpu, desc, arrays);
  }

  private set(p: ParamSpec, data: ArrayLike<number>): void {
    const dtype = storageDType(p, this.precision);
    if (dtype === 'f16') {
      for (let i = 0; i < data.length; i++) {
        if (Math.abs(data[i]) > F16_MAX) {
          throw new Error(
            `${this.desc.name}: "${p.key}"[${i}] = ${data[i]} is beyond float16's range (±${F16_MAX}); load it with precision f32`,
          );
        }
      }
    }
    const t = this.gpu.keep(this.gpu.tensor(data, p.shape, dtype));
    this.tensors.get(p.key)?.dispose();
    this.tensors.set(p.key, t);
  }

  /** The tensor of a state-dict key; an unknown key is an error naming it. */
  get(key: string): Tensor {
    if (this.disposed) throw new Error(`${this.desc.name}: parameters were disposed`);
    const t = this.tensors.get(key);
    if (!t) throw new Error(`${this.desc.name} has no tensor "${key}"`);
    return t;
  }

  has(key: string): boolean {
    return this.tensors.has(key);
  }

  /** Every key, in the description's (state_dict) order. */
  keys(): string[] {
    return this.desc.params.map((p) => p.key);
  }

  /** Weights and biases, in state_dict order (what an optimiser updates and backward returns). */
  trainableKeys(): string[] {
    return this.desc.params.filter(isTrainable).map((p) => p.key);
  }

  /** BN running statistics, in state_dict order. */
  bufferKeys(): string[] {
    return this.desc.params.filter((p) => !isTrainable(p)).map((p) => p.key);
  }

  /** Reads tensors back (all by default), e.g. to write a checkpoint. */
  async toArrays(keys: readonly string[] = this.keys()): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const k of keys) out[k] = await this.gpu.readF32(this.get(k));
    return out;
  }

  /** Overwrites one tensor's values (same element count). */
  write(key: string, data: ArrayLike<number>): void {
    this.gpu.write(this.get(key), data);
    this.writes++;
  }

  /**
   * Counts write() calls, so that snapshots derived from the values (CifarResnet.freezeForEval) can tell
   * they are stale. In-place updates by an optimiser are not counted.
   */
  get version(): number {
    return this.writes;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
  }
}

/**
 * A backward pass's gradients in params.trainableKeys() order; a missing one is an error naming `model`.
 * (Not a method: read-only views pass for a ParamStore with only the methods it had when they were written.)
 */
export function inTrainableOrder(
  params: Pick<ParamStore, 'trainableKeys'>,
  grads: ReadonlyMap<string, Tensor>,
  model: string,
): Map<string, Tensor> {
  const ordered = new Map<string, Tensor>();
  for (const key of params.trainableKeys()) {
    const g = grads.get(key);
    if (!g) throw new Error(`${model}: backward produced no gradient for "${key}"`);
    ordered.set(key, g);
  }
  return ordered;
}
