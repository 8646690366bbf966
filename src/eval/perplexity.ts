// Perplexity of a language model over text windows (DESIGN.md): exp of the mean next-token NLL over every
// predicted token, i.e. tokens 2…seqLen of each window, all windows weighing by their token count.

import type { TextWindows } from '../io/text-data.js';

export interface PerplexityMetrics {
  readonly perplexity: number;
  /** Mean NLL per predicted token (nats). */
  readonly nll: number;
  /** Predicted tokens: windows · (seqLen − 1). */
  readonly tokens: number;
}

/** What perplexity needs of a model: the summed NLL of a batch of windows [batch, seq]. */
export interface LanguageModel {
  nextTokenLoss(ids: ArrayLike<number>, batch: number, seq: number): Promise<{ sum: number; tokens: number }>;
}

export interface PerplexityOptions {
  /** Windows per forward pass. */
  readonly batch: number;
  readonly onProgress?: (p: { windows: number; of: number; nll: number }) => void;
}

/** The checks every perplexity evaluation starts with: a sane batch and at least one full window. */
export function checkEvalWindows(data: TextWindows, batch: number): void {
  if (!Number.isInteger(batch) || batch < 1)
    throw new RangeError(`batch must be an integer >= 1, got ${batch}`);
  if (data.windows === 0) {
    throw new Error(
      `${data.name} (${data.split}): no full window of ${data.seqLen} tokens in ${data.splitTokens} tokens`,
    );
  }
}

export async function evaluatePerplexity(
  model: LanguageModel,
  data: TextWindows,
  options: PerplexityOptions,
): Promise<PerplexityMetrics> {
  const { batch } = options;
  checkEvalWindows(data, batch);
  const T = data.seqLen;
  let sum = 0;
  let tokens = 0;
  for (let w = 0; w < data.windows; w += batch) {
    const b = Math.min(batch, data.windows - w);
    const r = await model.nextTokenLoss(data.ids.subarray(w * T, (w + b) * T), b, T);
    sum += r.sum;
    tokens += r.tokens;
    options.onProgress?.({ windows: w + b, of: data.windows, nll: sum / tokens });
  }
  const nll = sum / tokens;
  return { perplexity: Math.exp(nll), nll, tokens };
}
