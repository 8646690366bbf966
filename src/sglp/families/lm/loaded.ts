// The causal-LM family with the model loaded on the device (family.ts): calibration, the loss and GradNorm
// scorers over a view of the loaded tensors (no copies), perplexity, and AdamW fine-tuning of a copy.

import type { PrunedModel } from '../../../arch/prune.js';
import { evaluatePerplexity, type PerplexityMetrics } from '../../../eval/perplexity.js';
import type { SafetensorsDtype } from '../../../io/dtypes.js';
import { Llama } from '../../../nn/llama.js';
import type { ParamStore } from '../../../nn/params.js';
import { finetuneLm, type LmFinetuneOptions } from '../../../train/finetune-lm.js';
import type { CosineScores } from '../../baselines.js';
import { calibrateText } from '../../calibrate-text.js';
import type { CalibrationSettings, FamilyHooks, PrunedTarget } from '../../family.js';
import { finetuneProgress, finetuneStage } from '../../finetune-stage.js';
import { llmSegmentScorer } from '../../importance-llm.js';
import { ParamView } from '../../pruned-view.js';
import { roundToSaved } from '../../round-params.js';
import type { PruneSettings } from '../../search-stage.js';
import {
  calibrationOptions,
  type EvalRun,
  LmFamily,
  type LmInputs,
  type LmOptions,
  perplexityOf,
  type SegmentRequest,
} from './family.js';

/** `--finetune-epochs E` (and `--finetune-samples N`) plus any overrides of src/tunables.ts's lmFinetune. */
export type LmFinetuneRequest = Omit<LmFinetuneOptions, 'signal' | 'onProgress'> & {
  /**
   * The dtype each tensor (by the pruned model's key) will be saved in: F16/BF16 ones are rounded before the
   * evaluation, so that afterFinetune is the written model's. Default: kept in f32.
   */
  readonly savedAs?: (pruned: PrunedModel) => ReadonlyMap<string, SafetensorsDtype>;
};

export interface LoadedLmOptions extends LmOptions {
  /** `--finetune-epochs E` (docs/method.md §5): fine-tune a copy with AdamW, then evaluate it again. */
  readonly finetune?: LmFinetuneRequest;
}

export class LoadedLm extends LmFamily {
  protected readonly streamed = false;
  private net: Llama | undefined;

  constructor(
    inputs: LmInputs,
    readonly params: ParamStore,
    private readonly lmOptions: LoadedLmOptions,
  ) {
    super(inputs, lmOptions);
  }

  override start(): void {
    this.net = new Llama(this.gpu, this.desc, this.params);
    super.start();
  }

  override dispose(): void {
    this.net?.dispose();
    super.dispose();
  }

  calibrate(s: CalibrationSettings, observers: CosineScores[], hooks: FamilyHooks) {
    return calibrateText(
      this.gpu,
      this.net as Llama,
      this.inputs.train,
      calibrationOptions(s, observers, hooks),
    );
  }

  protected segmentScorer({ segment, batches, score, hooks }: SegmentRequest) {
    return llmSegmentScorer(this.gpu, this.desc, this.params, segment, batches, {
      counters: hooks.passes,
      signal: hooks.signal,
      score,
    });
  }

  prunedView(pruned: PrunedModel): ParamView {
    return ParamView.ofPruned(this.params, pruned);
  }

  private run(model: Llama, r: EvalRun) {
    const counted = {
      nextTokenLoss: async (ids: ArrayLike<number>, b: number, seq: number) => {
        r.hooks.signal?.throwIfAborted();
        const loss = await model.nextTokenLoss(ids, b, seq);
        r.hooks.passes.forward++;
        return loss;
      },
    };
    return evaluatePerplexity(counted, this.evalData, {
      batch: r.batch,
      onProgress: (p) => r.progress(p.windows),
    });
  }

  protected async perplexity(target: PrunedTarget | undefined, r: EvalRun): Promise<PerplexityMetrics> {
    if (!target) return this.run(this.net as Llama, r);
    const net = new Llama(this.gpu, target.pruned.description, (target.view as ParamView).asStore());
    try {
      return await this.run(net, r);
    } finally {
      net.dispose();
    }
  }

  async finetune(target: PrunedTarget, s: PruneSettings, hooks: FamilyHooks) {
    const request = this.lmOptions.finetune;
    const view = target.view;
    if (!request || !view) return undefined;
    const { savedAs, ...options } = request;
    const { gpu } = this;
    const desc = target.pruned.description;
    return finetuneStage({
      train: () =>
        finetuneLm(gpu, desc, view, this.inputs.train, {
          ...options,
          signal: hooks.signal,
          onProgress: finetuneProgress(
            { ...hooks, onProgress: hooks.progress, counters: hooks.passes },
            'nll',
          ),
        }),
      // Evaluated as written: rounded to the dtype each tensor is saved in.
      prepare: savedAs ? (params) => roundToSaved(params, savedAs(target.pruned)) : undefined,
      network: (params) => new Llama(gpu, desc, params),
      release: (net) => net.dispose(),
      evaluate: async (net) =>
        perplexityOf(await this.run(net, this.evalRun('eval-finetuned', s, hooks))).report,
    });
  }
}
