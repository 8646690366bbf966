// Layer streaming for LLaMA-family decoders: the eval-mode forward pass of several batches of windows run
// layer-major instead of batch-major, so that only one decoder layer's weights are on the device at a time.
// The embedding is read from the checkpoint, run on every batch and freed (or, when its table does not fit
// one storage binding, its rows are looked up on the CPU and only they are uploaded); then each decoder layer's
// tensors are read (TensorStore: by offset, one tensor at a time), uploaded, run on every batch's hidden
// state, and freed before the next layer is read. Device memory is one layer's weights plus the batches'
// hidden states (or one batch's, with `hostStates`), independent of depth, so a model larger than device
// memory can be calibrated. The final norm and LM head are not needed for per-layer work and never read.
//
// The per-layer arithmetic is decoderLayerForward's (llama-layer.ts), the same code Llama.forward runs on the
// same shapes, so the hidden states are bit-for-bit those of Llama.forward (test/nn/llama-stream.test.ts).

import type { DecoderLayerSpec, LlamaNet } from '../arch/llama.js';
import { checkStateDictKeys } from '../arch/state-dict.js';
import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import type { TensorStore } from '../io/safetensors.js';
import { embedding, uploadTokens } from '../ops/index.js';
import { decoderLayerForward } from './llama-layer.js';
import { disposeAll, getter, type HeldState, StreamWeights } from './stream-weights.js';

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
  /**
   * Look the embedding rows up on the CPU instead of uploading the table (the same values: a lookup is a
   * copy). Default: only when the table does not fit one storage binding (f32 vocab × hidden over the
   * adapter's maxStorageBufferBindingSize: 0.5B-and-larger vocabularies on lavapipe), where uploading it
   * cannot work at all.
   */
  readonly hostEmbedding?: boolean;
  /**
   * Receives batch `index`'s embedding output [batch·seq, hidden] (decoder layer 0's input), on the same
   * terms as the visitor's tensors.
   */
  readonly onInput?: (index: number, embedded: Tensor) => void | Promise<void>;
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
  const pool = gpu.pool;
  const peakBefore = pool.peakBytes;
  pool.resetPeak();
  const w = new StreamWeights(gpu, net, store, new Map(desc.params.map((p) => [p.key, p.shape])));
  let states: HeldState[] = [];
  const hold = (t: Tensor): Promise<HeldState> => w.hold(t, options.hostStates ?? false);
  const disposeStates = (): void => {
    for (const s of states) if (!(s instanceof Float32Array)) s.dispose();
    states = [];
  };

  const hostEmbedding =
    options.hostEmbedding ?? 4 * net.vocab * net.hidden > gpu.limits.maxStorageBufferBindingSize;
  try {
    if (hostEmbedding) {
      const rows = await w.gatherRows(net.embed, batches);
      for (const [i, r] of rows.entries()) {
        options.signal?.throwIfAborted();
        const x = gpu.keep(gpu.tensor(r, [batches[i].batch * batches[i].seq, net.hidden]));
        try {
          await options.onInput?.(states.length, x);
        } catch (e) {
          x.dispose();
          throw e;
        }
        states.push(await hold(x));
      }
    }
    const embed = hostEmbedding
      ? new Map<string, Tensor>()
      : await w.load([net.embed], `${net.embed} (streamed)`);
    try {
      for (const b of hostEmbedding ? [] : batches) {
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
          gpu.keep(rows);
          try {
            await options.onInput?.(states.length, rows);
          } catch (e) {
            rows.dispose();
            throw e;
          }
          states.push(await hold(rows));
        } finally {
          tokens.dispose();
        }
      }
    } finally {
      disposeAll(embed);
    }
    let done = 0;
    for (const spec of net.layers) {
      options.signal?.throwIfAborted();
      const weights = await w.load(layerKeys(spec), `${spec.name} weights (streamed)`);
      try {
        for (let i = 0; i < batches.length; i++) {
          const { batch: B, seq: T } = batches[i];
          // The held state (or its upload) is this layer's input only: freed once the output exists.
          const x = w.use(states[i], [B * T, net.hidden]);
          let out: Tensor;
          try {
            out = gpu.keep(
              await gpu.scope(
                () =>
                  decoderLayerForward(gpu, net, spec, getter(weights, spec.name), x, w.ropeFor(T), B, T).out,
              ),
            );
          } finally {
            x.dispose();
          }
          states[i] = out;
          await visit(spec.unit, i, out);
          states[i] = await hold(out);
        }
      } finally {
        disposeAll(weights);
      }
      options.onProgress?.(++done, net.layers.length);
    }
    return {
      peakBytes: pool.peakBytes,
      largestUploadBytes: w.largestUploadBytes,
      streamedBytes: w.streamedBytes,
    };
  } finally {
    disposeStates();
    w.dispose();
    pool.peakBytes = Math.max(peakBefore, pool.peakBytes);
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
