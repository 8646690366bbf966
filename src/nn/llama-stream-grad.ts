// Next-token loss of a LLaMA-family decoder over token batches with layer streaming, and with `grads` its
// GradNorm (docs/method.md §4) by recomputation, so that a model larger than device memory can be scored:
//   forward: the embedding, then each decoder layer read from the checkpoint, run on every batch, freed;
//     with grads only each layer's INPUT hidden state per batch is kept (device or CPU), not its activations;
//   head: final norm + LM head + token cross-entropy on row slices, exactly as Llama.nextTokenLoss, and with
//     grads their backward;
//   backward (grads): the layers in reverse, each read again, its forward recomputed from the saved input
//     (its activations exist only while it is done), decoderLayerBackward — the code Llama.backward runs —
//     its weight gradients' squared norms added into a per-batch f64 sum and freed; last the embedding
//     gradient (tied models: added into the LM head's gradient before squaring, as the loaded path does).
// The ops and shapes are Llama's, so losses and gradients equal the loaded path's; only the f64 sum of the
// squared norms runs in another order (test/sglp/importance-llm-stream.test.ts, "streamed GradNorm").
// Device memory: one layer's weights (or the embedding / head), one batch's activations of one layer, and
// the held states: up to L+1 hidden states per batch (unless `hostStates`), each batch's running gradient and,
// tied, its LM head gradient [vocab, hidden] (on the CPU too with `hostStates`). A head over one storage
// binding or a quarter of the memory cap is used in vocabulary slices instead (llama-head-sliced.ts: one
// slice of the weight on the device, its gradient on the CPU, the embedding looked up on the CPU), with the
// same results.

import { checkStateDictKeys } from '../arch/state-dict.js';
import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import type { TensorStore } from '../io/safetensors.js';
import { embedding, embeddingBackward, nextTokenTargets, type TokenIds, uploadTokens } from '../ops/index.js';
import { gradNorm } from '../ops/reduce/grad-norm.js';
import { reduce } from '../ops/reduce/reduce.js';
import { normHeadLoss } from './llama-head.js';
import { embeddingGradSquares, HeadRows, headSliceRows, sumSquaresOfSlices } from './llama-head-sliced.js';
import { decoderLayerBackward, decoderLayerForward } from './llama-layer.js';
import { type LlamaStreamResult, layerKeys, type TokenBatch } from './llama-stream.js';
import { disposeAll, getter, type HeldState, StreamWeights } from './stream-weights.js';

export interface StreamLossOptions {
  /** Also compute each batch's GradNorm (default false: loss only). */
  readonly grads?: boolean;
  /** Hold hidden states (and tied head gradients) on the CPU between layers. */
  readonly hostStates?: boolean;
  /** Token rows per LM head slice (default as Llama.nextTokenLoss: what one storage binding holds). */
  readonly headRows?: number;
  /**
   * Vocabulary rows per LM head slice (llama-head-sliced.ts): the head weight uploaded and used in slices.
   * Default: only when it exceeds one storage binding or a quarter of the device-memory cap (headSliceRows).
   */
  readonly headSliceRows?: number;
  /**
   * Look the embedding rows up on the CPU (llama-stream.ts). Default: when the table exceeds one storage
   * binding or the head is sliced.
   */
  readonly hostEmbedding?: boolean;
  /** Steps done of total: decoder layers forward, the head, and with grads the layers backward. */
  readonly onProgress?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
}

export interface StreamBatchLoss {
  /** Mean next-token NLL of the batch, predicted tokens, and their NLL sum. */
  readonly nll: number;
  readonly tokens: number;
  readonly sum: number;
  /** √(Σ_p ‖∂ mean NLL / ∂p‖²) over every parameter, with `grads`. */
  readonly gradNorm?: number;
}

export interface StreamLossResult extends LlamaStreamResult {
  readonly batches: StreamBatchLoss[];
}

/** Loss (and GradNorm) of `batches` on the model `desc` read tensor by tensor from `store`. */
export async function streamLlamaLoss(
  gpu: Gpu,
  desc: ModelDescription,
  store: TensorStore,
  batches: readonly TokenBatch[],
  options: StreamLossOptions = {},
): Promise<StreamLossResult> {
  if (desc.architecture !== 'llama') {
    throw new Error(`layer streaming runs architecture 'llama', got '${desc.architecture}' (${desc.name})`);
  }
  if (batches.length === 0) throw new Error(`${desc.name}: layer streaming needs at least one batch`);
  checkStateDictKeys(desc, store);
  const net = desc.net;
  const train = options.grads ?? false;
  const host = options.hostStates ?? false;
  const { vocab, hidden: h, layers } = net;
  const L = layers.length;
  const pool = gpu.pool;
  const peakBefore = pool.peakBytes;
  pool.resetPeak();
  const w = new StreamWeights(gpu, net, store, new Map(desc.params.map((p) => [p.key, p.shape])));
  const total = L + 1 + (train ? L : 0);
  let done = 0;
  const step = () => options.onProgress?.(++done, total);

  const targets = batches.map((b, i) => {
    const t = nextTokenTargets(b.ids, b.batch, b.seq);
    const count = t.reduce((n, x) => n + (x >= 0 ? 1 : 0), 0);
    if (count === 0)
      throw new Error(`${desc.name}: batch ${i}: windows of ${b.seq} token(s) predict nothing`);
    return { ids: t, count };
  });
  const tokens: TokenIds[] = [];
  // states[i][b]: decoder layer i's input on batch b (i = L: the last layer's output). Eval mode keeps one.
  const states: (HeldState | undefined)[][] = Array.from({ length: L + 1 }, () => []);
  const dxs: (HeldState | undefined)[] = [];
  const headGrads: (HeldState | undefined)[] = [];
  // The LM head in vocabulary slices (and then the embedding looked up on the CPU, its gradient on the host).
  const sliceRows = headSliceRows(gpu, vocab, h, options.headSliceRows);
  const hostEmbedding =
    options.hostEmbedding ??
    (sliceRows !== undefined || 4 * vocab * h > gpu.limits.maxStorageBufferBindingSize);
  const slicedGrads: (Float32Array[] | undefined)[] = [];
  const squares = new Float64Array(batches.length);
  const losses: { sum: number; count: number }[] = [];
  const rowsOf = (b: TokenBatch) => [b.batch * b.seq, h];
  const free = (s: HeldState | undefined) => {
    if (s && !(s instanceof Float32Array)) s.dispose();
  };
  /** Σ‖g‖² of `grads` (the GradNorm op's per-tensor sums), which it frees. */
  const addSquares = async (b: number, grads: readonly Tensor[]) => {
    try {
      squares[b] += (await gradNorm(gpu, grads)) ** 2;
    } finally {
      for (const g of grads) g.dispose();
    }
  };

  try {
    // Embedding → every batch's layer-0 input.
    for (const b of batches) {
      tokens.push(uploadTokens(gpu, b.ids, [b.batch, b.seq], vocab, { index: train }));
    }
    if (hostEmbedding) {
      for (const [i, r] of (await w.gatherRows(net.embed, batches)).entries()) {
        options.signal?.throwIfAborted();
        states[0][i] = host ? r : gpu.keep(gpu.tensor(r, rowsOf(batches[i])));
      }
    }
    const embed = hostEmbedding
      ? new Map<string, Tensor>()
      : await w.load([net.embed], `${net.embed} (streamed)`);
    try {
      for (const [i, b] of (hostEmbedding ? [] : batches).entries()) {
        options.signal?.throwIfAborted();
        const rows = await gpu.scope(() => {
          const x0 = embedding(gpu, embed.get(net.embed) as Tensor, tokens[i]);
          const x = gpu.empty(rowsOf(b), 'f32', 'hidden state (streamed)');
          gpu.copy(x0, x);
          return x;
        });
        states[0][i] = await w.hold(gpu.keep(rows), host);
      }
    } finally {
      disposeAll(embed);
    }

    // Decoder layers forward: only the outputs survive.
    for (const [li, spec] of layers.entries()) {
      const weights = await w.load(layerKeys(spec), `${spec.name} weights (streamed)`);
      try {
        for (const [i, b] of batches.entries()) {
          options.signal?.throwIfAborted();
          const s = states[li][i] as HeldState;
          const x = w.use(s, rowsOf(b));
          let out: Tensor;
          try {
            out = gpu.keep(
              await gpu.scope(
                () =>
                  decoderLayerForward(
                    gpu,
                    net,
                    spec,
                    getter(weights, spec.name),
                    x,
                    w.ropeFor(b.seq),
                    b.batch,
                    b.seq,
                  ).out,
              ),
            );
          } finally {
            if (s instanceof Float32Array) x.dispose();
          }
          if (!train) {
            free(s);
            states[li][i] = undefined;
          }
          states[li + 1][i] = await w.hold(out, host);
        }
      } finally {
        disposeAll(weights);
      }
      step();
    }

    // Final norm + LM head + loss (+ their backward).
    const head = await w.load(
      sliceRows === undefined ? [net.norm, net.head] : [net.norm],
      sliceRows === undefined ? 'final norm + LM head (streamed)' : 'final norm (streamed)',
    );
    try {
      const normW = head.get(net.norm) as Tensor;
      const W =
        sliceRows === undefined
          ? (head.get(net.head) as Tensor)
          : { rows: await HeadRows.open(store, net.head, vocab, h), sliceRows };
      for (const [i, b] of batches.entries()) {
        options.signal?.throwIfAborted();
        const s = states[L][i] as HeldState;
        const xl = w.use(s, rowsOf(b));
        states[L][i] = undefined;
        let r: Awaited<ReturnType<typeof normHeadLoss>>;
        try {
          r = await normHeadLoss(gpu, xl, normW, W, net.eps, targets[i], vocab, train, options.headRows);
        } finally {
          xl.dispose(); // the held state or its upload: the last layer's output is not a layer input
        }
        losses.push({ sum: r.sum, count: targets[i].count });
        if (r.dx && r.normGrad && r.slicedGrad) {
          const { dx, slicedGrad } = r;
          try {
            await addSquares(i, [r.normGrad]);
            if (!net.tied) squares[i] += Math.sqrt(await sumSquaresOfSlices(gpu, slicedGrad)) ** 2;
            dxs[i] = await w.hold(dx, host);
          } catch (e) {
            if (!dxs[i]) dx.dispose();
            throw e;
          }
          if (net.tied) slicedGrads[i] = slicedGrad;
        } else if (r.dx && r.normGrad && r.headGrad) {
          const { dx, headGrad } = r;
          try {
            await addSquares(i, [r.normGrad]);
            if (!net.tied) await addSquares(i, [headGrad]);
            dxs[i] = await w.hold(dx, host);
          } catch (e) {
            if (!dxs[i]) dx.dispose();
            if (net.tied) headGrad.dispose();
            throw e;
          }
          if (net.tied) headGrads[i] = await w.hold(headGrad, host);
        }
      }
    } finally {
      disposeAll(head);
    }
    step();

    if (train) {
      // Decoder layers backward, each recomputed from its saved input.
      for (let li = L - 1; li >= 0; li--) {
        const spec = layers[li];
        const weights = await w.load(layerKeys(spec), `${spec.name} weights (streamed, backward)`);
        const get = getter(weights, spec.name);
        try {
          for (const [i, b] of batches.entries()) {
            options.signal?.throwIfAborted();
            // Each weight gradient's sum of squares is recorded as soon as it is made and the gradient freed
            // (gradNorm's per-tensor sums, added in the same order), so one layer's gradients never coexist.
            const grads = new Map<string, Tensor>();
            const sink = {
              set: (key: string, g: Tensor) => {
                try {
                  grads.set(key, gpu.keep(reduce(gpu, g.reshape([g.size]), 'sumsq', 0)));
                } finally {
                  g.dispose();
                }
              },
            };
            let dx: Tensor;
            // Taken over: x and dout (held states or their uploads) are freed below.
            let x: Tensor | undefined;
            let dout: Tensor | undefined;
            try {
              const input = w.use(states[li][i] as HeldState, rowsOf(b));
              x = input;
              states[li][i] = undefined;
              const dy = w.use(dxs[i] as HeldState, rowsOf(b));
              dout = dy;
              dxs[i] = undefined;
              const tables = w.ropeFor(b.seq);
              const acts = await gpu.scope(() =>
                decoderLayerForward(gpu, net, spec, get, input, tables, b.batch, b.seq),
              );
              try {
                dx = gpu.keep(
                  decoderLayerBackward(gpu, net, spec, get, acts, dy, sink, tables, b.batch, b.seq),
                );
              } finally {
                for (const [k, t] of Object.entries(acts)) if (k !== 'x') (t as Tensor).dispose();
              }
            } catch (e) {
              for (const g of grads.values()) g.dispose();
              throw e;
            } finally {
              x?.dispose();
              dout?.dispose();
            }
            try {
              dxs[i] = await w.hold(dx, host);
            } catch (e) {
              for (const g of grads.values()) g.dispose();
              throw e;
            }
            try {
              const sums = [...grads.values()];
              const values = await gpu.scope(async () => {
                const slots = gpu.empty([sums.length]);
                for (const [k, t] of sums.entries()) gpu.copy(t, slots, 4, 0, 4 * k);
                return gpu.readF32(slots);
              });
              let total = 0;
              for (const v of values) total += v;
              squares[i] += Math.sqrt(total) ** 2;
            } finally {
              for (const g of grads.values()) g.dispose();
            }
          }
        } finally {
          disposeAll(weights);
        }
        step();
      }
      // Embedding gradient; tied: the LM head's gradient plus the embedding's, one parameter.
      for (const [i, b] of batches.entries()) {
        if (sliceRows !== undefined) {
          const held = dxs[i] as HeldState;
          dxs[i] = undefined;
          const dx = held instanceof Float32Array ? held : await w.hold(held, true);
          const grad = net.tied ? slicedGrads[i] : undefined;
          slicedGrads[i] = undefined;
          const s = await embeddingGradSquares(gpu, dx as Float32Array, b.ids, h, vocab, sliceRows, grad);
          squares[i] += Math.sqrt(s) ** 2;
          continue;
        }
        const dx = w.use(dxs[i] as HeldState, rowsOf(b));
        dxs[i] = undefined;
        try {
          if (net.tied) {
            const g = w.use(headGrads[i] as HeldState, [vocab, h]);
            headGrads[i] = undefined;
            try {
              embeddingBackward(gpu, dx, tokens[i], { into: g });
            } catch (e) {
              g.dispose();
              throw e;
            }
            await addSquares(i, [g]);
          } else await addSquares(i, [embeddingBackward(gpu, dx, tokens[i])]);
        } finally {
          dx.dispose();
        }
      }
    }
    return {
      batches: losses.map((l, i) => ({
        nll: l.sum / l.count,
        tokens: l.count,
        sum: l.sum,
        ...(train ? { gradNorm: Math.sqrt(squares[i]) } : {}),
      })),
      peakBytes: pool.peakBytes,
      largestUploadBytes: w.largestUploadBytes,
      streamedBytes: w.streamedBytes,
    };
  } finally {
    for (const row of states) for (const s of row) free(s);
    for (const s of [...dxs, ...headGrads]) free(s);
    for (const t of tokens) t.dispose();
    w.dispose();
    pool.peakBytes = Math.max(peakBefore, pool.peakBytes);
  }
}
