// Perplexity of a checkpoint that is never loaded whole (DESIGN.md's definition, eval/perplexity.ts): the
// windows run in groups of `groupWindows` through nn/llama-stream-grad.ts's loss-only stream (the decoder
// layers one at a time from the checkpoint, then final norm + LM head + NLL), in batches of `batch` windows,
// so the per-batch NLL sums are those of Llama.nextTokenLoss on the same batches and the f64 mean is taken
// in the same order: the metrics equal evaluatePerplexity's on the loaded model.

import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { TensorStore } from '../io/safetensors.js';
import type { TextWindows } from '../io/text-data.js';
import type { TokenBatch } from '../nn/llama-stream.js';
import { streamLlamaLoss } from '../nn/llama-stream-grad.js';
import { streamEvalWindows } from '../tunables.js';
import { checkEvalWindows, type PerplexityMetrics, type PerplexityOptions } from './perplexity.js';

export interface StreamedPerplexityOptions extends PerplexityOptions {
  /** Windows per pass over the checkpoint (default tunables.streamEvalWindows, rounded to whole batches). */
  readonly groupWindows?: number;
  /** Hidden states on the CPU between layers. */
  readonly hostStates?: boolean;
  readonly signal?: AbortSignal;
}

export interface StreamedPerplexity extends PerplexityMetrics {
  /** Most device bytes live during the passes. */
  readonly peakBytes: number;
  /** Passes over the checkpoint. */
  readonly passes: number;
}

export async function evaluatePerplexityStreamed(
  gpu: Gpu,
  desc: ModelDescription,
  store: TensorStore,
  data: TextWindows,
  options: StreamedPerplexityOptions,
): Promise<StreamedPerplexity> {
  const { batch } = options;
  checkEvalWindows(data, batch);
  const groupWindows = options.groupWindows ?? streamEvalWindows;
  if (!Number.isSafeInteger(groupWindows) || groupWindows < 1) {
    throw new RangeError(`groupWindows must be an integer >= 1, got ${groupWindows}`);
  }
  const group = Math.max(1, Math.floor(groupWindows / batch)) * batch;
  const T = data.seqLen;
  let sum = 0;
  let tokens = 0;
  let peakBytes = 0;
  let passes = 0;
  for (let g = 0; g < data.windows; g += group) {
    const end = Math.min(data.windows, g + group);
    const batches: TokenBatch[] = [];
    for (let w = g; w < end; w += batch) {
      const b = Math.min(batch, end - w);
      batches.push({ ids: data.ids.subarray(w * T, (w + b) * T), batch: b, seq: T });
    }
    const r = await streamLlamaLoss(gpu, desc, store, batches, {
      ...(options.hostStates ? { hostStates: true } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    passes++;
    peakBytes = Math.max(peakBytes, r.peakBytes);
    let w = g;
    for (const [i, b] of r.batches.entries()) {
      sum += b.sum;
      tokens += b.tokens;
      w += batches[i].batch;
      options.onProgress?.({ windows: w, of: data.windows, nll: sum / tokens });
    }
  }
  const nll = sum / tokens;
  return { perplexity: Math.exp(nll), nll, tokens, peakBytes, passes };
}
