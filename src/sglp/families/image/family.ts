// The image-classifier family (CIFAR and torchvision ResNets, CIFAR VGG-BN) behind the pipeline's
// interface (../../family.ts): calibration on the first train images, the loss and GradNorm scorers on
// labelled batches, accuracy on the test split, batch-norm recalibration as the repair, SGD fine-tuning.
// A VGG conv whose input width changed is re-initialised (docs/method.md §0) with seeded weights
// (reinit.ts): the scorers see them, and the pruned view holds the same ones.

import type { PrunedModel } from '../../../arch/prune.js';
import type { ModelDescription } from '../../../arch/types.js';
import { type ClassifierMetrics, evaluateClassifier, type LabelledBatch } from '../../../eval/classify.js';
import type { Gpu } from '../../../gpu/device.js';
import { batchCount, imageBatches, type Normalize } from '../../../io/batches.js';
import type { ImageDataset } from '../../../io/dataset.js';
import { OptionError } from '../../../io/option-error.js';
import { type ClassifierModel, createClassifier } from '../../../nn/model.js';
import type { ParamStore } from '../../../nn/params.js';
import { type FinetuneOptions, finetune } from '../../../train/finetune.js';
import type { CosineScores } from '../../baselines.js';
import { calibrate } from '../../calibrate.js';
import type {
  CalibrationSettings,
  EvalSettings,
  FamilyHooks,
  Measured,
  ModelFamily,
  PrunedTarget,
} from '../../family.js';
import { finetuneProgress, finetuneStage } from '../../finetune-stage.js';
import {
  disposeGradNormBatches,
  segmentScorer,
  sharingTotals,
  uploadGradNormBatches,
} from '../../importance.js';
import { segmentLossScorer } from '../../loss-score.js';
import { type ParamView, prunedView } from '../../pruned-view.js';
import { hasBatchNorm, recalibrateBatchNorm } from '../../recalibrate.js';
import { checkTrainSize, type PruneSettings, type PruneStage } from '../../search-stage.js';
import { SGLP_DEFAULTS } from './defaults.js';

export interface ImageInputs {
  readonly gpu: Gpu;
  /** An image classifier's description and its loaded tensors (left unchanged). */
  readonly desc: ModelDescription;
  readonly params: ParamStore;
  readonly normalize: Normalize;
  readonly train: ImageDataset;
  readonly test: ImageDataset;
}

/** `--finetune-epochs E` and any overrides of docs/method.md §5's defaults. */
export type FinetuneRequest = Omit<FinetuneOptions, 'signal' | 'onProgress' | 'onEpoch'>;

/** The options only image classifiers take. */
export interface ImageOptions {
  /**
   * Batch-norm recalibration of the pruned model on the first N train images (default 2048, or all the
   * train split has when fewer; 0: off). Models without BN skip it.
   */
  readonly recalibrate?: number;
  /** `--finetune-epochs E` (docs/method.md §5): fine-tune a copy of the pruned model, then evaluate it again. */
  readonly finetune?: FinetuneRequest;
  /** Evaluate on the first N test images only. */
  readonly evalLimit?: number;
}

/** The report's metrics of an evaluation (only its fields, whatever else the object carries). */
const classification = (m: ClassifierMetrics): Measured<ClassifierMetrics> => ({
  metrics: m,
  report: { accuracy: m.accuracy, loss: m.loss, samples: m.samples },
});

export class ImageFamily implements ModelFamily<ClassifierMetrics> {
  readonly gpu: Gpu;
  readonly desc: ModelDescription;
  readonly params: ParamStore;
  readonly defaults = SGLP_DEFAULTS;
  readonly keepPlan: { readonly protectedUnits: readonly number[]; readonly stem: number | null };
  private readonly recalibrate: number;
  private net: ClassifierModel | undefined;
  /** Whether the repair ran (the report records its protocol, or null when off or without BN). */
  private recalibrated = false;

  constructor(
    private readonly inputs: ImageInputs,
    private readonly options: ImageOptions,
  ) {
    const { gpu, desc, params, train } = inputs;
    if (desc.architecture === 'llama') {
      throw new Error(
        'pruneSglp runs image classifiers; prune a decoder LM with pruneLlm (families/lm/prune.ts) on text windows',
      );
    }
    this.gpu = gpu;
    this.desc = desc;
    this.params = params;
    this.keepPlan = {
      protectedUnits: desc.units.filter((u) => u.protected).map((u) => u.index),
      stem: desc.stem ?? null,
    };
    // The default takes what a small data set has; an explicit count must be there.
    this.recalibrate = options.recalibrate ?? Math.min(SGLP_DEFAULTS.recalibrate, train.n);
  }

  checkData(s: PruneSettings): void {
    const { train } = this.inputs;
    const recalibrate = this.recalibrate;
    if (!Number.isSafeInteger(recalibrate) || recalibrate < 0) {
      throw new OptionError(
        'recalibrate',
        (n) => `${n('recalibrate')} must be a count of images >= 0, got ${recalibrate}`,
      );
    }
    if (recalibrate > train.n) {
      throw new OptionError(
        'recalibrate',
        (n) => `${n('recalibrate')} ${recalibrate}: ${train.name} has only ${train.n} samples`,
      );
    }
    checkTrainSize(s, train.n, `${train.name} has only ${train.n} samples`);
  }

  start(): void {
    this.net = createClassifier(this.gpu, this.desc, this.params);
  }

  dispose(): void {
    this.net?.unfreeze();
  }

  calibrate(s: CalibrationSettings, observers: CosineScores[], hooks: FamilyHooks) {
    const { desc, params, normalize, train } = this.inputs;
    return calibrate(
      this.gpu,
      { desc, params, normalize, train },
      {
        samples: s.samples,
        batch: s.batch,
        estimator: s.estimator,
        net: this.net,
        signal: hooks.signal,
        observers,
        onProgress: (done, total) => hooks.progress({ stage: 'features', done, total }),
      },
    );
  }

  scorers(s: PruneSettings, hooks: FamilyHooks) {
    const { gpu, desc, params, normalize, train } = this.inputs;
    const batches = uploadGradNormBatches(gpu, desc, [
      ...imageBatches(train, { batchSize: s.gSize, normalize, limit: s.gBatches * s.gSize }),
    ]);
    const o = { counters: hooks.passes, signal: hooks.signal, reinitSeed: s.seed };
    return {
      segment: (seg: readonly [number, number]) =>
        s.score === 'loss'
          ? segmentLossScorer(gpu, desc, params, [seg[0], seg[1]], batches, o)
          : segmentScorer(gpu, desc, params, [seg[0], seg[1]], batches, o),
      dispose: () => disposeGradNormBatches(batches),
    };
  }

  /** Re-initialised convs (VGG) get the very weights their candidate was scored with (same seed, reinit.ts). */
  prunedView(pruned: PrunedModel, s: PruneSettings): ParamView {
    return prunedView(this.gpu, this.params, pruned, s.seed);
  }

  private async run(
    model: ClassifierModel,
    stage: PruneStage,
    s: EvalSettings,
    hooks: FamilyHooks,
  ): Promise<Measured<ClassifierMetrics>> {
    const { test, normalize } = this.inputs;
    const limit = this.options.evalLimit;
    const total = batchCount(test, { batchSize: s.evalBatch, normalize, limit });
    await model.freezeForEval();
    try {
      async function* counted() {
        for (const b of imageBatches(test, { batchSize: s.evalBatch, normalize, limit })) {
          hooks.signal?.throwIfAborted();
          yield { x: b.x, labels: b.y, n: b.size } satisfies LabelledBatch;
          hooks.passes.forward++;
        }
      }
      return classification(
        await evaluateClassifier(this.gpu, model, counted(), {
          onProgress: (p) => hooks.progress({ stage, done: p.batches, total }),
        }),
      );
    } finally {
      model.unfreeze();
    }
  }

  evaluate(target: PrunedTarget | undefined, stage: PruneStage, s: EvalSettings, hooks: FamilyHooks) {
    const model = target
      ? createClassifier(this.gpu, target.pruned.description, (target.view as ParamView).asStore())
      : (this.net as ClassifierModel);
    return this.run(model, stage, s, hooks);
  }

  given(before: ClassifierMetrics): Measured<ClassifierMetrics> {
    const { test } = this.inputs;
    const n = Math.min(test.n, this.options.evalLimit ?? test.n);
    if (before.samples !== n) {
      throw new Error(`pruneSglp: options.before holds ${before.samples} samples, expected ${n}`);
    }
    return classification(before);
  }

  async repair(target: PrunedTarget & { readonly view: ParamView }, s: PruneSettings, hooks: FamilyHooks) {
    if (!(this.recalibrate > 0 && hasBatchNorm(target.view))) return null;
    this.recalibrated = true;
    const tr = performance.now();
    const view = await recalibrateBatchNorm(this.gpu, target.view, this.inputs.train, this.inputs.normalize, {
      images: this.recalibrate,
      batch: SGLP_DEFAULTS.recalibrateBatch,
      signal: hooks.signal,
      counters: hooks.passes,
      onProgress: (done, total) => hooks.progress({ stage: 'recalibrate', done, total }),
    });
    const repairMs = performance.now() - tr;
    const tv = performance.now();
    const measured = await this.evaluate({ pruned: target.pruned, view }, 'eval-recalibrated', s, hooks);
    return { view, measured, repairMs, evalMs: performance.now() - tv };
  }

  async finetune(target: PrunedTarget, s: PruneSettings, hooks: FamilyHooks) {
    const request = this.options.finetune;
    if (!request) return undefined;
    const { gpu } = this;
    const desc = target.pruned.description;
    const { train, normalize } = this.inputs;
    return finetuneStage({
      train: () =>
        finetune(gpu, desc, target.view as ParamView, train, normalize, {
          ...request,
          signal: hooks.signal,
          onProgress: finetuneProgress(
            { ...hooks, onProgress: hooks.progress, counters: hooks.passes },
            'loss',
          ),
        }),
      network: (params) => createClassifier(gpu, desc, params),
      release: (net) => net.unfreeze(),
      evaluate: async (net) => (await this.run(net, 'eval-finetuned', s, hooks)).report,
    });
  }

  isDefault(): boolean {
    return this.recalibrate === SGLP_DEFAULTS.recalibrate || !this.recalibrated;
  }

  reportFields(passes: { forward: number; backward: number }, s: PruneSettings) {
    return {
      seqLen: null,
      wording: { calibration: 'samples', gradnormSuffix: '', eval: 'samples' },
      recalibration: this.recalibrated
        ? { images: this.recalibrate, batch: SGLP_DEFAULTS.recalibrateBatch }
        : null,
      sharing: s.sglp ? sharingTotals(passes) : undefined,
    };
  }
}
