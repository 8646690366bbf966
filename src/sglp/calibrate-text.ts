// Calibration of a LLaMA-family model (docs/method.md §1, text): the first `windows` windows of the train split,
// `batchWindows` windows per batch, through the unpruned model (inference: no saved activations); every
// decoder layer's output hidden state [tokens, hidden] goes into the CKA accumulator as its rows are
// handed over (one CKA matrix per batch of windows·seqLen token rows, averaged). Observers see the same
// states in the same pass, and first the embedding output (decoder layer 0's input) through `input`.

import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import { checkCount, OptionError } from '../io/option-error.js';
import type { TextWindows } from '../io/text-data.js';
import type { Llama } from '../nn/llama.js';
import { embedding } from '../ops/llm/embedding.js';
import type { FeatureObserver } from './calibrate.js';
import { CkaAccumulator, type CkaResult, type Estimator } from './cka.js';

/** docs/method.md's calibration protocol for text: 16 windows, 4 per batch (512 token rows at seq-len 128). */
export const TEXT_CALIBRATION_DEFAULTS = { windows: 16, batchWindows: 4, estimator: 'biased' } as const;

/** A FeatureObserver that also wants the embedding output [tokens, hidden] before the first layer's. */
export interface TextFeatureObserver extends FeatureObserver {
  input?(embedded: Tensor): void | Promise<void>;
}

export interface TextCalibrationOptions {
  readonly windows?: number;
  readonly batchWindows?: number;
  readonly estimator?: Estimator;
  readonly observers?: readonly TextFeatureObserver[];
  readonly onProgress?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
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
  checkCount('samples', windows);
  checkCount('batch', per);
  if (windows > train.windows) {
    throw new OptionError(
      'samples',
      (n) =>
        `${n('samples')} ${windows}: ${train.name} (train) has only ${train.windows} windows of ${train.seqLen} tokens`,
    );
  }
  return { windows, per, estimator };
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
  const observers = options.observers ?? [];
  const acc = new CkaAccumulator(gpu, { units: net.desc.units.map((u) => u.name), estimator });
  let featuresMs = 0;
  let ckaMs = 0;
  let forwardPasses = 0;
  try {
    const total = Math.ceil(windows / per);
    for (let w = 0, done = 0; w < windows; w += per) {
      options.signal?.throwIfAborted();
      const b = Math.min(per, windows - w);
      const ta = performance.now();
      acc.beginBatch(b * T);
      for (const o of observers) o.beginBatch(b * T);
      await gpu.scope(async () => {
        const tokens = net.tokens(train.ids.subarray(w * T, (w + b) * T), b, T);
        if (observers.some((o) => o.input)) {
          const x0 = embedding(gpu, net.params.get(net.net.embed), tokens).reshape([b * T, net.net.hidden]);
          for (const o of observers) await o.input?.(x0);
        }
        const { hidden } = await net.forwardHidden(tokens, {
          capture: async (unit, rep) => {
            acc.addUnit(unit, rep);
            for (const o of observers) await o.capture(unit, rep);
          },
        });
        hidden.dispose();
        tokens.dispose();
      });
      forwardPasses++;
      const tb = performance.now();
      await acc.endBatch();
      for (const o of observers) await o.endBatch();
      featuresMs += tb - ta;
      ckaMs += performance.now() - tb;
      options.onProgress?.(++done, total);
    }
    return { cka: acc.result(), featuresMs, ckaMs, forwardPasses };
  } finally {
    acc.dispose();
  }
}
