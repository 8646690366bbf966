// The causal-LM family for a checkpoint that is never loaded whole (`--stream`; family.ts): every stage reads
// the decoder layers one at a time from the input checkpoint (nn/llama-stream*.ts), so that the whole prune
// needs about one layer's weights (or the embedding / LM head) on the device plus the activations of a
// batch. Calibration and GradNorm scoring live in calibrate-text-stream.ts and importance-llm-stream.ts;
// the pruned model is exported from the checkpoint (no view). No fine-tuning.

import type { PrunedModel } from '../../../arch/prune.js';
import type { PerplexityMetrics } from '../../../eval/perplexity.js';
import { evaluatePerplexityStreamed } from '../../../eval/perplexity-stream.js';
import { OptionError } from '../../../io/option-error.js';
import type { TensorStore } from '../../../io/safetensors.js';
import type { CosineScores } from '../../baselines.js';
import { calibrateTextStreamed } from '../../calibrate-text-stream.js';
import type { CalibrationSettings, EvalSettings, FamilyHooks, Measured, PrunedTarget } from '../../family.js';
import type { TextBatch } from '../../importance-llm.js';
import { prunedStore, streamedLlmSegmentScorer } from '../../importance-llm-stream.js';
import type { PruneStage } from '../../search-stage.js';
import { calibrationOptions, LmFamily, type LmInputs, type LmOptions, perplexityOf } from './family.js';

/** `sglp prune --stream`: the input checkpoint, read one tensor at a time under its own keys. */
export interface LlmStreamInput {
  readonly store: TensorStore;
  /** Hold hidden states on the CPU between layers (less device memory, one readback per layer). */
  readonly hostStates?: boolean;
  /**
   * Calibration streams the model once per CKA batch (default true: one batch's CKA state on the
   * device); false: once for all batches (`sglp cka --stream`). The matrix is the same bit for bit.
   */
  readonly perBatch?: boolean;
}

export class StreamedLm extends LmFamily {
  readonly params = undefined;
  protected readonly streamed = true;

  constructor(
    inputs: LmInputs,
    private readonly stream: LlmStreamInput,
    options: LmOptions & { readonly finetune?: unknown },
  ) {
    if (options.finetune) {
      throw new OptionError(
        ['finetune', 'stream'],
        (n) => `${n('finetune')} needs the model loaded on the device; it does not run with ${n('stream')}`,
      );
    }
    super(inputs, options);
  }

  calibrate(s: CalibrationSettings, observers: CosineScores[], hooks: FamilyHooks) {
    // By default once per batch: one batch's CKA state on the device (L·n² floats, more than a small
    // model's weights); the extra checkpoint reads are few next to GradNorm's two per candidate.
    return calibrateTextStreamed(this.gpu, this.desc, this.stream.store, this.inputs.train, {
      ...calibrationOptions(s, observers, hooks),
      perBatch: this.stream.perBatch ?? true,
      hostStates: this.stream.hostStates ?? false,
    });
  }

  protected segmentScorer(
    segment: readonly [number, number],
    batches: readonly TextBatch[],
    score: 'loss' | 'gradnorm',
    hooks: FamilyHooks,
  ) {
    return streamedLlmSegmentScorer(this.gpu, this.desc, this.stream.store, segment, batches, {
      counters: hooks.passes,
      signal: hooks.signal,
      hostStates: this.stream.hostStates ?? false,
      score,
    });
  }

  prunedView(): undefined {
    return undefined;
  }

  /** Perplexity of the model (or of `target`, a pruning of it), streamed, with progress and passes. */
  async evaluate(
    target: PrunedTarget | undefined,
    stage: PruneStage,
    s: EvalSettings,
    hooks: FamilyHooks,
  ): Promise<Measured<PerplexityMetrics>> {
    const data = this.evalData;
    const batch = s.evalBatch;
    const pruned: PrunedModel | undefined = target?.pruned;
    const total = Math.ceil(data.windows / batch);
    const r = await evaluatePerplexityStreamed(
      this.gpu,
      pruned ? pruned.description : this.desc,
      prunedStore(this.stream.store, pruned),
      data,
      {
        batch,
        ...(this.stream.hostStates ? { hostStates: true } : {}),
        ...(hooks.signal ? { signal: hooks.signal } : {}),
        onProgress: (p) => hooks.progress({ stage, done: Math.ceil(p.windows / batch), total }),
      },
    );
    hooks.passes.forward += total;
    return perplexityOf({ perplexity: r.perplexity, nll: r.nll, tokens: r.tokens });
  }

  async finetune(): Promise<undefined> {
    return undefined;
  }
}
