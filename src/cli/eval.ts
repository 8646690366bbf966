// `sglp eval MODEL --data SPEC [--split test] [--limit N] [--batch B] [--json]`: accuracy and mean
// cross-entropy of an image classifier, `{accuracy, loss, samples}`, or with text:FILE the perplexity of a
// language model, `{perplexity, nll, tokens}` (eval-text.ts reads the windows). Flags and data are checked
// here; the model is loaded and evaluated by the library (src/api/), as the page and Deno do.

import { loadModel as loadModelSource } from '../api/model.js';
import { evaluate } from '../api/run.js';
import { describeModel } from '../arch/describe.js';
import { type ClassifierMetrics, evaluateClassifier } from '../eval/classify.js';
import type { PerplexityMetrics } from '../eval/perplexity.js';
import type { Gpu } from '../gpu/device.js';
import { batchCount, imageBatches } from '../io/batches.js';
import type { CnnConfig } from '../io/config.js';
import { parseDataSpec, parseSplit, type Split } from '../io/data-spec.js';
import type { ImageDataset } from '../io/dataset.js';
import { openCheckpoint } from '../io/safetensors-index.js';
import type { TextWindows } from '../io/text-data.js';
import { type ClassifierModel, createClassifier } from '../nn/model.js';
import type { Precision } from '../nn/params.js';
import { ParamStore } from '../nn/params.js';
import { loadImageDataset } from '../node/datasets.js';
import { acquireDevice } from '../node/device.js';
import { directorySource } from '../node/files.js';
import { readRunnableConfig } from '../node/model-dir.js';
import { checkDatasetFits, labelled } from './common.js';
import { TEXT_EVAL_DEFAULT_BATCH, textEvalData } from './eval-text.js';
import { checkPrecisionSupported } from './precision.js';
import { type CliIo, Progress, processIo } from './progress.js';

export interface EvalOptions {
  readonly data: string;
  readonly split?: string;
  readonly limit?: number;
  readonly batch?: number;
  readonly json?: boolean;
  /** text:FILE only: tokens per window (default 128). */
  readonly seqLen?: number;
  /** text:FILE only: f32 or f16 weight matrices on the device (default f32). */
  readonly precision?: string;
}

export interface EvalDeps {
  readonly io?: CliIo;
  /** A device to use (and leave open); by default one is acquired and destroyed. */
  readonly gpu?: Gpu;
}

export const EVAL_DEFAULT_BATCH = 128;

/** Loads an image classifier's model directory onto the device (every tensor checked by checkStateDict). */
export async function loadModel(
  gpu: Gpu,
  model: string,
  config: CnnConfig,
): Promise<{ params: ParamStore; net: ClassifierModel }> {
  const desc = describeModel(config);
  const store = await openCheckpoint(directorySource(model));
  let params: ParamStore;
  try {
    params = await ParamStore.load(gpu, desc, store);
  } finally {
    await store.close();
  }
  return { params, net: createClassifier(gpu, desc, params) };
}

/** Evaluates a loaded model on a data set, with a progress bar on stderr. */
export async function evaluateOn(
  gpu: Gpu,
  net: ClassifierModel,
  config: CnnConfig,
  ds: ImageDataset,
  options: { batch: number; limit?: number; label: string; io: CliIo },
): Promise<ClassifierMetrics> {
  const batchOptions = { batchSize: options.batch, normalize: config.normalize, limit: options.limit };
  const progress = new Progress(options.io, options.label, batchCount(ds, batchOptions));
  const t0 = performance.now();
  try {
    await net.freezeForEval();
    return await evaluateClassifier(gpu, net, labelled(imageBatches(ds, batchOptions)), {
      onProgress: (p) =>
        progress.update(p.batches, { rate: p.samples / ((performance.now() - t0) / 1000), loss: p.loss }),
    });
  } finally {
    progress.stop();
  }
}

/** `text:FILE` data gives `{perplexity, nll, tokens}` (eval-text.ts); image data sets `{accuracy, loss, samples}`. */
export function evalCommand(
  model: string,
  opts: EvalOptions & { data: `text:${string}` },
  deps?: EvalDeps,
): Promise<PerplexityMetrics & { split: Split }>;
export function evalCommand(
  model: string,
  opts: EvalOptions,
  deps?: EvalDeps,
): Promise<ClassifierMetrics & { split: Split }>;
export async function evalCommand(
  model: string,
  opts: EvalOptions,
  deps: EvalDeps = {},
): Promise<(ClassifierMetrics | PerplexityMetrics) & { split: Split }> {
  const io = deps.io ?? processIo;
  const split = parseSplit(opts.split ?? 'test');
  const spec = parseDataSpec(opts.data); // a bad spec fails before the device is started
  // Everything that can be checked is, before the device: the model's config, the data and its fit.
  let data: ImageDataset | TextWindows;
  let describe: (m: ClassifierMetrics | PerplexityMetrics) => string;
  let precision: Precision = 'f32';
  let total: number;
  const text = spec.kind === 'text';
  const batch = opts.batch ?? (text ? TEXT_EVAL_DEFAULT_BATCH : EVAL_DEFAULT_BATCH);
  if (spec.kind === 'text') {
    const got = await textEvalData(model, { ...opts, file: spec.file, split }, io);
    ({ data, precision } = got);
    total = Math.ceil(got.data.windows / batch);
    describe = (m) =>
      `${model} on ${spec.file} (${split}, ${got.data.windows} windows of ${got.seqLen}, ${got.tokenizer}): ` +
      `perplexity ${(m as PerplexityMetrics).perplexity.toFixed(3)}  nll ${(m as PerplexityMetrics).nll.toFixed(4)}  ` +
      `(${(m as PerplexityMetrics).tokens} tokens)\n`;
  } else {
    if (opts.precision !== undefined && opts.precision !== 'f32') {
      throw new Error(
        `--precision ${opts.precision} applies to language models on text:FILE data only; ${model} on ${opts.data} is not`,
      );
    }
    const config = await readRunnableConfig(model);
    const ds = await loadImageDataset(opts.data, split);
    checkDatasetFits(ds, config, model);
    if (opts.limit === 0) throw new Error('--limit must be at least 1');
    data = ds;
    total = batchCount(ds, { batchSize: batch, normalize: config.normalize, limit: opts.limit });
    describe = (m) =>
      `${model} on ${opts.data} (${split}): accuracy ${(100 * (m as ClassifierMetrics).accuracy).toFixed(2)}%  ` +
      `loss ${(m as ClassifierMetrics).loss.toFixed(4)}  (${(m as ClassifierMetrics).samples} samples)\n`;
  }
  const gpu = deps.gpu ?? (await acquireDevice());
  let metrics: ClassifierMetrics | PerplexityMetrics;
  try {
    checkPrecisionSupported(gpu, precision);
    // The library's loadModel and evaluate, as the page and Deno run them (src/api/).
    const loaded = await loadModelSource(gpu, directorySource(model), { precision });
    const progress = new Progress(io, `eval ${split}`, total, 'batches');
    try {
      metrics = await evaluate(loaded, data, {
        batch,
        ...(text ? {} : { limit: opts.limit }),
        onProgress: (p) => progress.update(p.done),
      });
    } finally {
      progress.stop();
      await loaded.dispose();
    }
  } finally {
    if (!deps.gpu) gpu.destroy();
  }
  const result =
    'accuracy' in metrics
      ? { accuracy: metrics.accuracy, loss: metrics.loss, samples: metrics.samples }
      : { perplexity: metrics.perplexity, nll: metrics.nll, tokens: metrics.tokens };
  if (opts.json) io.stdout(`${JSON.stringify(result)}\n`);
  else io.stdout(describe(result));
  return { ...result, split };
}
