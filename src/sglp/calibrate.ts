// Calibration (docs/method.md §1): the first `samples` train samples in file order, batches of `batch`, through the
// unpruned model in eval mode; every unit's representation goes into the CKA accumulator as soon as the
// forward pass hands it over. Used by `sglp prune` (all methods: the report always carries the CKA
// matrix), `sglp cka` and the library. Observers see the same representations in the same pass, which
// is how the block-influence and angular baselines are scored on exactly the CKA samples.

import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import { imageBatches, type Normalize } from '../io/batches.js';
import type { ImageDataset } from '../io/dataset.js';
import { checkCount, OptionError } from '../io/option-error.js';
import { CLASSIFIER_ARCHITECTURES, type ClassifierModel, createClassifier } from '../nn/model.js';
import type { ParamStore } from '../nn/params.js';
import { CkaAccumulator, type CkaResult, type Estimator } from './cka.js';

/** docs/method.md's calibration protocol for images. */
export const CALIBRATION_DEFAULTS = { samples: 2500, batch: 500, estimator: 'biased' as Estimator } as const;

/** Sees each calibration batch's unit representations (the model's tensors: read, never keep or free). */
export interface FeatureObserver {
  beginBatch(rows: number): void;
  /** Called in unit order; a returned promise is awaited before the forward pass goes on. */
  capture(unit: number, representation: Tensor): void | Promise<void>;
  endBatch(): void | Promise<void>;
}

/** A FeatureObserver that may also want the model's input representation (text: the embedding output). */
export interface InputObserver extends FeatureObserver {
  input?(embedded: Tensor): void | Promise<void>;
}

/** The CKA accumulator and the observers of one calibration, fed the same representations in one pass. */
export class FeatureSinks {
  constructor(
    private readonly acc: CkaAccumulator,
    private readonly observers: readonly InputObserver[],
  ) {}

  /** Whether an observer wants the input representation (then the caller computes it). */
  get wantsInput(): boolean {
    return this.observers.some((o) => o.input);
  }

  beginBatch(rows: number): void {
    this.acc.beginBatch(rows);
    for (const o of this.observers) o.beginBatch(rows);
  }

  async input(x0: Tensor): Promise<void> {
    for (const o of this.observers) await o.input?.(x0);
  }

  async capture(unit: number, rep: Tensor): Promise<void> {
    this.acc.addUnit(unit, rep);
    for (const o of this.observers) await o.capture(unit, rep);
  }

  async endBatch(): Promise<void> {
    await this.acc.endBatch();
    for (const o of this.observers) await o.endBatch();
  }
}

/**
 * The calibration `samples` and `batch` checked (integers >= 1; samples within the `available` ones of the
 * train split, `only` saying what it has: `… has only 64 samples`).
 */
export function checkCalibrationSizes(samples: number, batch: number, available: number, only: string): void {
  checkCount('samples', samples);
  checkCount('batch', batch);
  if (samples > available) throw new OptionError('samples', (n) => `${n('samples')} ${samples}: ${only}`);
}

/** What every calibration takes (images here, text windows in calibrate-text*.ts). */
export interface CalibrationRunOptions {
  readonly estimator?: Estimator;
  /** After each batch: batches done and in all. */
  readonly onProgress?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
}

export interface CalibrationOptions extends CalibrationRunOptions {
  readonly samples?: number;
  readonly batch?: number;
  readonly observers?: readonly FeatureObserver[];
  /** The network to run (default: createClassifier over `params`); frozen for eval, unfrozen after. */
  readonly net?: ClassifierModel;
}

export interface CalibrationResult {
  readonly cka: CkaResult;
  /** Forward passes plus Gram work done during them (features) and the per-batch products (CKA). */
  readonly featuresMs: number;
  readonly ckaMs: number;
  /** Forward passes over one batch. */
  readonly forwardPasses: number;
}

/** Runs the calibration samples through the model and returns the averaged CKA matrix. */
export async function calibrate(
  gpu: Gpu,
  model: {
    readonly desc: ModelDescription;
    readonly params: ParamStore;
    readonly normalize: Normalize;
    readonly train: ImageDataset;
  },
  options: CalibrationOptions = {},
): Promise<CalibrationResult> {
  const { desc, params, normalize, train } = model;
  if (!(CLASSIFIER_ARCHITECTURES as readonly string[]).includes(desc.architecture)) {
    throw new Error(
      `calibration: architecture "${desc.architecture}" is not supported yet ` +
        `(supported: ${CLASSIFIER_ARCHITECTURES.join(', ')})`,
    );
  }
  const samples = options.samples ?? CALIBRATION_DEFAULTS.samples;
  const batch = options.batch ?? CALIBRATION_DEFAULTS.batch;
  const estimator = options.estimator ?? CALIBRATION_DEFAULTS.estimator;
  checkCalibrationSizes(samples, batch, train.n, `${train.name} has only ${train.n} samples`);
  const net = options.net ?? createClassifier(gpu, desc, params);
  const acc = new CkaAccumulator(gpu, { units: desc.units.map((u) => u.name), estimator });
  const sinks = new FeatureSinks(acc, options.observers ?? []);
  let featuresMs = 0;
  let ckaMs = 0;
  let forwardPasses = 0;
  const [c, h, w] = desc.input;
  try {
    const tf = performance.now();
    await net.freezeForEval();
    featuresMs += performance.now() - tf;
    const total = Math.ceil(samples / batch);
    let done = 0;
    for (const b of imageBatches(train, { batchSize: batch, normalize, limit: samples })) {
      options.signal?.throwIfAborted();
      const ta = performance.now();
      sinks.beginBatch(b.size);
      await gpu.scope(async () => {
        const x = gpu.tensor(b.x, [b.size, c, h, w]);
        await net.forward(x, { mode: 'eval', capture: (unit, rep) => sinks.capture(unit, rep) });
      });
      forwardPasses++;
      const tb = performance.now();
      await sinks.endBatch();
      const tc = performance.now();
      featuresMs += tb - ta;
      ckaMs += tc - tb;
      options.onProgress?.(++done, total);
    }
    return { cka: acc.result(), featuresMs, ckaMs, forwardPasses };
  } finally {
    acc.dispose();
    net.unfreeze();
  }
}
