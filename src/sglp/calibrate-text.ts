// Calibration of a LLaMA-family model (docs/method.md §1, text): the first `windows` windows of the train split,
// `batchWindows` windows per batch, through the unpruned model (inference: no saved activations); every
// decoder layer's output hidden state [tokens, hidden] goes into the CKA accumulator as its rows are
// handed over (one CKA matrix per batch of windows·seqLen token rows, averaged). Observers see the same
// states in the same pass, and first the embedding output (decoder layer 0's input) through `input`.

import type { Gpu } from '../gpu/device.js';
import type { TextWindows } from '../io/text-data.js';
import type { Llama } from '../nn/llama.js';
import { embedding } from '../ops/llm/embedding.js';
import {
  type CalibrationRunOptions,
  checkCalibrationSizes,
  FeatureSinks,
  type InputObserver,
} from './calibrate.js';
import { CkaAccumulator, type CkaResult, type Estimator } from './cka.js';
import type { TextBatch } from './importance-llm.js';

/** docs/method.md's calibration protocol for text: 16 windows, 4 per batch (512 token rows at seq-len 128). */
export const TEXT_CALIBRATION_DEFAULTS = { windows: 16, batchWindows: 4, estimator: 'biased' } as const;

/** A FeatureObserver that also wants the embedding output [tokens, hidden] before the first layer's. */
export type TextFeatureObserver = InputObserver;

export interface TextCalibrationOptions extends CalibrationRunOptions {
  readonly windows?: number;
  readonly batchWindows?: number;
  readonly observers?: readonly TextFeatureObserver[];
}

export interface TextCalibrationResult {
  readonly cka: CkaResult;
  readonly featuresMs: number;
  readonly ckaMs: number;
  readonly forwardPasses: number;
}

/** The windows, windows per batch and estimator a calibration uses, checked against `train`. */
export function textCalibrationSettings(
  train: TextWindows,
  options: Pick<TextCalibrationOptions, 'windows' | 'batchWindows' | 'estimator'>,
): { windows: number; per: number; estimator: Estimator } {
  const windows = options.windows ?? TEXT_CALIBRATION_DEFAULTS.windows;
  const per = options.batchWindows ?? TEXT_CALIBRATION_DEFAULTS.batchWindows;
  const estimator = options.estimator ?? TEXT_CALIBRATION_DEFAULTS.estimator;
  checkCalibrationSizes(
    windows,
    per,
    train.windows,
    `${train.name} (train) has only ${train.windows} windows of ${train.seqLen} tokens`,
  );
  return { windows, per, estimator };
}

/** The first `count` windows of `data` in batches of `size`. */
export function textBatches(data: TextWindows, count: number, size: number): TextBatch[] {
  const T = data.seqLen;
  const out: TextBatch[] = [];
  for (let w = 0; w < count; w += size) {
    const b = Math.min(size, count - w);
    out.push({ ids: data.ids.subarray(w * T, (w + b) * T), batch: b, seq: T });
  }
  return out;
}

/** Runs the first windows of `train` through `net` and returns the averaged CKA of its decoder layers. */
export async function calibrateText(
  gpu: Gpu,
  net: Llama,
  train: TextWindows,
  options: TextCalibrationOptions = {},
): Promise<TextCalibrationResult> {
  const { windows, per, estimator } = textCalibrationSettings(train, options);
  const T = train.seqLen;
  const acc = new CkaAccumulator(gpu, { units: net.desc.units.map((u) => u.name), estimator });
  const sinks = new FeatureSinks(acc, options.observers ?? []);
  let featuresMs = 0;
  let ckaMs = 0;
  let forwardPasses = 0;
  try {
    const batches = textBatches(train, windows, per);
    let done = 0;
    for (const { ids, batch: b } of batches) {
      options.signal?.throwIfAborted();
      const ta = performance.now();
      sinks.beginBatch(b * T);
      await gpu.scope(async () => {
        const tokens = net.tokens(ids, b, T);
        if (sinks.wantsInput) {
          await sinks.input(
            embedding(gpu, net.params.get(net.net.embed), tokens).reshape([b * T, net.net.hidden]),
          );
        }
        const { hidden } = await net.forwardHidden(tokens, {
          capture: (unit, rep) => sinks.capture(unit, rep),
        });
        hidden.dispose();
        tokens.dispose();
      });
      forwardPasses++;
      const tb = performance.now();
      await sinks.endBatch();
      featuresMs += tb - ta;
      ckaMs += performance.now() - tb;
      options.onProgress?.(++done, batches.length);
    }
    return { cka: acc.result(), featuresMs, ckaMs, forwardPasses };
  } finally {
    acc.dispose();
  }
}
