// Accuracy and mean cross-entropy of an image classifier over a stream of batches, in eval mode
// (`sglp eval` for CNNs: `{accuracy, loss, samples}`). Per-sample losses come from the GPU's
// softmaxCrossEntropy; accuracy (first maximum wins, as torch.argmax) and the sums are taken in f64 here.

import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import { softmaxCrossEntropy, uploadLabels } from '../ops/index.js';

/** One batch: `n` samples, x = n x C x H x W normalised values (row-major), labels = n class indices. */
export interface LabelledBatch {
  readonly x: Float32Array;
  readonly labels: Int32Array;
  readonly n: number;
}

/** What evaluateClassifier needs of a model (CifarResnet has it). */
export interface Classifier {
  readonly desc: {
    readonly name: string;
    readonly input: readonly [number, number, number];
    readonly numClasses: number;
  };
  forward(x: Tensor, options: { mode: 'eval' }): Promise<{ logits: Tensor }>;
}

export interface ClassifierMetrics {
  /** Fraction of samples whose largest logit is the label's. */
  readonly accuracy: number;
  /** Mean cross-entropy (natural log) over all samples. */
  readonly loss: number;
  readonly samples: number;
}

export interface EvaluateOptions {
  /** Called after each batch with the running totals. */
  readonly onProgress?: (progress: ClassifierMetrics & { readonly batches: number }) => void;
}

/** Runs every batch through the model in eval mode. An empty stream, or a malformed batch, is an error. */
export async function evaluateClassifier(
  gpu: Gpu,
  model: Classifier,
  batches: AsyncIterable<LabelledBatch> | Iterable<LabelledBatch>,
  options: EvaluateOptions = {},
): Promise<ClassifierMetrics> {
  const [c, h, w] = model.desc.input;
  const classes = model.desc.numClasses;
  const per = c * h * w;
  let correct = 0;
  let lossSum = 0;
  let samples = 0;
  let count = 0;
  for await (const batch of batches) {
    const { n } = batch;
    const where = `evaluate ${model.desc.name}: batch ${count}`;
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${where}: n must be a count, got ${n}`);
    if (batch.x.length !== n * per) {
      throw new RangeError(
        `${where}: x has ${batch.x.length} values, expected ${n} x ${c}x${h}x${w} = ${n * per}`,
      );
    }
    if (batch.labels.length !== n) {
      throw new RangeError(`${where}: ${batch.labels.length} labels for ${n} samples`);
    }
    count++;
    if (n === 0) continue;
    const [logits, losses] = await gpu.scope(async () => {
      const x = gpu.tensor(batch.x, [n, c, h, w]);
      const labels = uploadLabels(gpu, batch.labels, classes);
      const out = await model.forward(x, { mode: 'eval' });
      const ce = softmaxCrossEntropy(gpu, out.logits, labels, { grad: false });
      return [await gpu.readF32(out.logits), await gpu.readF32(ce.perSample)] as const;
    });
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < classes; j++) if (logits[i * classes + j] > logits[i * classes + best]) best = j;
      if (best === batch.labels[i] && Number.isFinite(logits[i * classes + best])) correct++;
      lossSum += losses[i];
    }
    samples += n;
    options.onProgress?.({ accuracy: correct / samples, loss: lossSum / samples, samples, batches: count });
  }
  if (samples === 0) throw new RangeError(`evaluate ${model.desc.name}: no samples to evaluate`);
  return { accuracy: correct / samples, loss: lossSum / samples, samples };
}
