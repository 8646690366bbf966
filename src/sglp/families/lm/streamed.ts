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
import type { CalibrationSettings, FamilyHooks, PrunedTarget } from '../../family.js';
import { prunedStore, streamedLlmSegmentScorer } from '../../importance-llm-stream.js';
import {
  calibrationOptions,
  type EvalRun,
  LmFamily,
  type LmInputs,
  type LmOptions,
  type SegmentRequest,
} from './family.js';

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

  protected segmentScorer({ segment, batches, score, hooks }: SegmentRequest) {
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

  /** The perplexity of the model (or of `target`, a pruning of it), streamed from the checkpoint. */
  protected async perplexity(target: PrunedTarget | undefined, r: EvalRun): Promise<PerplexityMetrics> {
    const pruned: PrunedModel | undefined = target?.pruned;
    const m = await evaluatePerplexityStreamed(
      this.gpu,
      pruned ? pruned.description : this.desc,
      prunedStore(this.stream.store, pruned),
      this.evalData,
      {
        batch: r.batch,
        ...(this.stream.hostStates ? { hostStates: true } : {}),
        ...(r.hooks.signal ? { signal: r.hooks.signal } : {}),
        onProgress: (p) => r.progress(p.windows),
      },
    );
    r.hooks.passes.forward += Math.ceil(this.evalData.windows / r.batch);
    return { perplexity: m.perplexity, nll: m.nll, tokens: m.tokens };
  }

  async finetune(): Promise<undefined> {
    return undefined;
  }
}
