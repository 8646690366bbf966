// Layer streaming for LLaMA-family decoders: the eval-mode forward pass of several batches of windows run
// layer-major instead of batch-major, so that only one decoder layer's weights are on the device at a time.
// The embedding is read from the checkpoint, run on every batch and freed; then each decoder layer's
// tensors are read (TensorStore: by offset, one tensor at a time), uploaded, run on every batch's hidden
// state, and freed before the next layer is read. Device memory is one layer's weights plus the batches'
// hidden states (or one batch's, with `hostStates`), independent of depth, so a model larger than device
// memory can be calibrated. The final norm and LM head are not needed for per-layer work and never read.
//
// The per-layer arithmetic is decoderLayerForward's (llama.ts), the same code Llama.forward runs on the
// same shapes, so the hidden states are bit-for-bit those of Llama.forward (test/nn/llama-stream.test.ts).

import type { DecoderLayerSpec, LlamaNet } from '../arch/llama.js';
import { checkStateDictKeys } from '../arch/state-dict.js';
import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import type { TensorStore } from '../io/safetensors.js';
import { embedding, parseRopeScaling, type RopeTables, ropeTables, uploadTokens } from '../ops/index.js';
import { decoderLayerForward } from './llama.js';

/** One batch of windows: `batch` windows of `seq` token ids, window after window. */
export interface TokenBatch {
  readonly ids: ArrayLike<number>;
  readonly batch: number;
  readonly seq: number;
}

/**
 * Receives decoder layer `unit`'s output [batch·seq, hidden] on batch `index`. The tensor belongs to the
 * stream: finish with it (a returned promise is awaited) before returning; do not dispose it.
 */
export type StreamVisitor = (unit: number, index: number, hidden: Tensor) => void | Promise<void>;

export interface LlamaStreamOptions {
  /** Keep the batches' hidden states on the CPU between layers (default false: on the device). */
  readonly hostStates?: boolean;
  /** Called after each decoder layer has run on every batch (done of total layers). */
  readonly onProgress?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
}

export interface LlamaStreamResult {
  /** Most bytes the pool had live during the pass (weights, states, the visitor's own buffers). */
  readonly peakBytes: number;
  /** The largest set of tensors uploaded at once: the embedding or one decoder layer, in f32 bytes. */
  readonly largestUploadBytes: number;
  /** Every tensor read from the checkpoint (embedding and decoder layers), in f32 bytes. */
  readonly streamedBytes: number;
}

/** A hidden state held between layers: on the device, or its values on the CPU. */
type State = Tensor | Float32Array;

/** Runs `batches` through the decoder layers of `desc`, one layer's weights on the device at a time. */
export async function streamLlamaLayers(
  gpu: Gpu,
  desc: ModelDescription,
  store: TensorStore,
  batches: readonly TokenBatch[],
  visit: StreamVisitor,
  options: LlamaStreamOptions = {},
): Promise<LlamaStreamResult> {
  if (desc.architecture !== 'llama') {
    throw new Error(`layer streaming runs architecture 'llama', got '${desc.architecture}' (${desc.name})`);
  }
  if (batches.length === 0) throw new Error(`${desc.name}: layer streaming needs at least one batch`);
  checkStateDictKeys(desc, store);
  const net: LlamaNet = desc.net;
  const shapes = new Map(desc.params.map((p) => [p.key, p.shape]));
  const pool = gpu.pool;
  const peakBefore = pool.peakBytes;
  pool.resetPeak();
  const tables = new Map<number, RopeTables>();
  let states: State[] = [];
  let largestUploadBytes = 0;
  let streamedBytes = 0;

  /** Uploads the named checkpoint tensors, labelled so that a memory error says whose they are. */
  const load = async (keys: readonly string[], label: string): Promise<Map<string, Tensor>> => {
    const out = new Map<string, Tensor>();
    let bytes = 0;
    try {
      for (const key of keys) {
        const shape = shapes.get(key) as readonly number[];
        const data = await store.float32(key, shape);
        checkFinite(data, store.name, key);
        const t = gpu.keep(gpu.empty(shape, 'f32', label));
        out.set(key, t);
        gpu.write(t, data);
        bytes += data.byteLength;
      }
    } catch (e) {
      for (const t of out.values()) t.dispose();
      throw e;
    }
    largestUploadBytes = Math.max(largestUploadBytes, bytes);
    streamedBytes += bytes;
    return out;
  };
  const ropeFor = (T: number): RopeTables => {
    let tb = tables.get(T);
    if (!tb) {
      const scaling = parseRopeScaling(net.ropeScaling);
      tb = ropeTables(
        gpu,
        { headDim: net.headDim, theta: net.ropeTheta, ...(scaling ? { scaling } : {}) },
        { length: T },
      );
      gpu.keep(tb.cos);
      gpu.keep(tb.sin);
      tables.set(T, tb);
    }
    return tb;
  };
  const hold = async (t: Tensor): Promise<State> => {
    if (!options.hostStates) return gpu.keep(t);
    const data = await gpu.readF32(t);
    t.dispose();
    return data;
  };
  const disposeStates = (): void => {
    for (const s of states) if (!(s instanceof Float32Array)) s.dispose();
    states = [];
  };

  try {
    const embed = await load([net.embed], `${net.embed} (streamed)`);
    try {
      for (const b of batches) {
        options.signal?.throwIfAborted();
        const N = b.batch * b.seq;
        const tokens = uploadTokens(gpu, b.ids, [b.batch, b.seq], net.vocab);
        try {
          // embedding gives [B, T, hidden]; layers read rows [N, hidden] (an exact copy, owned here).
          const rows = await gpu.scope(() => {
            const x0 = embedding(gpu, embed.get(net.embed) as Tensor, tokens);
            const x = gpu.empty([N, net.hidden], 'f32', 'hidden state (streamed)');
            gpu.copy(x0, x);
            return x;
          });
          states.push(await hold(gpu.keep(rows)));
        } finally {
          tokens.dispose();
        }
      }
    } finally {
      for (const t of embed.values()) t.dispose();
    }
    let done = 0;
    for (const spec of net.layers) {
      options.signal?.throwIfAborted();
      const weights = await load(layerKeys(spec), `${spec.name} weights (streamed)`);
      try {
        for (let i = 0; i < batches.length; i++) {
          const { batch: B, seq: T } = batches[i];
          const prev = states[i];
          const onHost = prev instanceof Float32Array;
          const x = onHost ? gpu.keep(gpu.tensor(prev, [B * T, net.hidden])) : prev;
          let out: Tensor;
          try {
            out = gpu.keep(
              await gpu.scope(() => {
                const get = (key: string): Tensor => {
                  const t = weights.get(key);
                  if (!t) throw new Error(`${spec.name}: tensor "${key}" was not streamed in`);
                  return t;
                };
                return decoderLayerForward(gpu, net, spec, get, x, ropeFor(T), B, T).out;
              }),
            );
          } finally {
            if (onHost) x.dispose();
          }
          if (!onHost) x.dispose();
          states[i] = out;
          await visit(spec.unit, i, out);
          states[i] = await hold(out);
        }
      } finally {
        for (const t of weights.values()) t.dispose();
      }
      options.onProgress?.(++done, net.layers.length);
    }
    return { peakBytes: pool.peakBytes, largestUploadBytes, streamedBytes };
  } finally {
    disposeStates();
    for (const tb of tables.values()) {
      tb.cos.dispose();
      tb.sin.dispose();
    }
    pool.peakBytes = Math.max(peakBefore, pool.peakBytes);
  }
}

/** ParamStore.load's value check, done here tensor by tensor as each is read (never the whole model). */
function checkFinite(data: Float32Array, file: string, key: string): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new Error(`${file}: tensor "${key}" holds a non-finite value (${data[i]}) at element ${i}`);
    }
  }
}

/** A decoder layer's checkpoint keys: the two norms and the seven projections (with their biases). */
export function layerKeys(l: DecoderLayerSpec): string[] {
  const keys = [l.inputNorm, l.postAttentionNorm];
  for (const p of [l.q, l.k, l.v, l.o, l.gate, l.up, l.down]) {
    keys.push(`${p.name}.weight`);
    if (p.bias) keys.push(`${p.name}.bias`);
  }
  return keys;
}
