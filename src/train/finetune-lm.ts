// Fine-tuning a pruned language model (docs/method.md §5, "AdamW for LMs"): the pruned model's tensors are copied
// into a fresh, writable ParamStore (the source, usually a read-only view over the loaded model, is only
// read) and trained with the LM trainer's loop (lm-loop.ts): AdamW, linear warmup + cosine, seeded window
// shuffles, on the train split's windows (the first N with `--finetune-samples N`). The caller evaluates
// the result and owns (disposes) the new store.

import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import { checkCount } from '../io/option-error.js';
import type { TextWindows } from '../io/text-data.js';
import { Llama } from '../nn/llama.js';
import type { ParamStore } from '../nn/params.js';
import { lmFinetune } from '../tunables.js';
import { checkFinetuneSamples, copyParams, type TensorSource } from './finetune.js';
import { type LmEpochRecord, type LmLoopProgress, lmStepsPerEpoch, runLmEpochs } from './lm-loop.js';
import { ADAMW_DEFAULTS, Optimizer } from './optimizer.js';

export interface LmFinetuneOptions {
  readonly epochs: number;
  readonly lr?: number;
  /** Windows per step. */
  readonly batchSize?: number;
  /** Warmup steps; default lmFinetune.warmup, at most lmFinetune.warmupFraction of the run. */
  readonly warmup?: number;
  readonly weightDecay?: number;
  readonly seed?: number;
  /** `--finetune-samples N`: the first N train windows only (default: all). */
  readonly samples?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: LmLoopProgress) => void;
}

/** Every setting of an LM fine-tuning run, as the report's protocol.finetune records it. */
export interface LmFinetuneSettings {
  readonly epochs: number;
  readonly optimizer: 'adamw';
  readonly lr: number;
  readonly schedule: 'cosine';
  readonly momentum: null;
  readonly weightDecay: number;
  readonly batchSize: number;
  readonly augment: false;
  readonly seed: number;
  readonly samples: number | null;
  readonly warmup: number;
}

export interface LmFinetuneResult {
  /** The fine-tuned tensors under the description's keys (the caller disposes them). */
  readonly params: ParamStore;
  readonly history: LmEpochRecord[];
  readonly settings: LmFinetuneSettings;
}

/** The first `samples` windows of `data` (all of them when null or more), without copying. */
export function firstWindows(data: TextWindows, samples: number | null): TextWindows {
  if (samples === null || samples >= data.windows) return data;
  return {
    ...data,
    name: `${data.name} (first ${samples})`,
    windows: samples,
    ids: data.ids.subarray(0, samples * data.seqLen),
  };
}

/** The settings of a run over `windows` training windows, defaults from src/tunables.ts; bad ones throw. */
export function lmFinetuneSettings(options: LmFinetuneOptions, windows: number): LmFinetuneSettings {
  const epochs = options.epochs;
  checkCount('finetune.epochs', epochs);
  const samples = options.samples ?? null;
  checkFinetuneSamples(samples);
  const batchSize = options.batchSize ?? lmFinetune.batch;
  if (!(Number.isSafeInteger(batchSize) && batchSize >= 1)) {
    throw new RangeError(`fine-tuning batch size must be an integer >= 1, got ${batchSize}`);
  }
  const lr = options.lr ?? lmFinetune.lr;
  if (!(Number.isFinite(lr) && lr > 0)) throw new RangeError(`fine-tuning lr must be > 0, got ${lr}`);
  const weightDecay = options.weightDecay ?? lmFinetune.weightDecay;
  if (!(Number.isFinite(weightDecay) && weightDecay >= 0)) {
    throw new RangeError(`fine-tuning weight decay must be >= 0, got ${weightDecay}`);
  }
  const seed = options.seed ?? lmFinetune.seed;
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`fine-tuning seed must be an integer >= 0, got ${seed}`);
  }
  const used = samples === null ? windows : Math.min(samples, windows);
  const total = lmStepsPerEpoch(used, batchSize) * epochs;
  const warmup = options.warmup ?? Math.min(lmFinetune.warmup, Math.floor(total * lmFinetune.warmupFraction));
  if (!(Number.isSafeInteger(warmup) && warmup >= 0 && warmup < total)) {
    throw new RangeError(`fine-tuning warmup must be an integer in [0, ${total}) steps, got ${warmup}`);
  }
  return {
    epochs,
    optimizer: 'adamw',
    lr,
    schedule: 'cosine',
    momentum: null,
    weightDecay,
    batchSize,
    augment: false,
    seed,
    samples,
    warmup,
  };
}

/** Fine-tunes a copy of the pruned decoder LM `desc` (tensors read from `source`) on `train`'s windows. */
export async function finetuneLm(
  gpu: Gpu,
  desc: ModelDescription,
  source: TensorSource,
  train: TextWindows,
  options: LmFinetuneOptions,
): Promise<LmFinetuneResult> {
  if (desc.architecture !== 'llama') {
    throw new Error(`finetuneLm: ${desc.name} (${desc.architecture}) is not a decoder LM`);
  }
  if (train.windows === 0) {
    throw new Error(
      `fine-tuning: ${train.name} (${train.split}) has no full window of ${train.seqLen} tokens`,
    );
  }
  const settings = lmFinetuneSettings(options, train.windows);
  const params = await copyParams(gpu, desc, source);
  let net: Llama | undefined;
  const opt = new Optimizer(gpu, { kind: 'adamw', ...ADAMW_DEFAULTS, weightDecay: settings.weightDecay });
  try {
    net = new Llama(gpu, desc, params);
    const history = await runLmEpochs(gpu, net, params, opt, firstWindows(train, settings.samples), {
      epochs: settings.epochs,
      batch: settings.batchSize,
      lr: settings.lr,
      warmup: settings.warmup,
      seed: settings.seed,
      lrName: 'the fine-tuning learning rate',
      signal: options.signal,
      onProgress: options.onProgress,
    });
    return { params, history, settings };
  } catch (e) {
    params.dispose();
    throw e;
  } finally {
    net?.dispose();
    opt.dispose();
  }
}
