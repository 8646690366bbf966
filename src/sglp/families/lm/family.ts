// The causal-LM family (LLaMA-family decoders) behind the pipeline's interface (../../family.ts): what the
// loaded (loaded.ts) and the streamed (streamed.ts) implementations share. Units are the decoder layers
// (nothing protected, no stem); calibration, scoring and perplexity run on windows of seqLen tokens
// (docs/method.md §1–4, text protocol); there is no repair step. The implementations differ in where the
// weights are: on the device, or read a layer at a time from the checkpoint.

import type { PrunedModel } from '../../../arch/prune.js';
import type { ModelDescription } from '../../../arch/types.js';
import type { PerplexityMetrics } from '../../../eval/perplexity.js';
import type { Gpu } from '../../../gpu/device.js';
import type { TextWindows } from '../../../io/text-data.js';
import type { ParamStore, Precision } from '../../../nn/params.js';
import type { CosineScores } from '../../baselines.js';
import type { CalibrationResult } from '../../calibrate.js';
import { textBatches } from '../../calibrate-text.js';
import type { Scorer } from '../../candidates.js';
import type { SaveDtype } from '../../export.js';
import type {
  CalibrationSettings,
  EvalSettings,
  FamilyHooks,
  Finetuned,
  Measured,
  ModelFamily,
  PrunedTarget,
} from '../../family.js';
import type { TextBatch } from '../../importance-llm.js';
import type { ParamView } from '../../pruned-view.js';
import { checkTrainSize, type PruneSettings, type PruneStage } from '../../search-stage.js';
import { SGLP_TEXT_DEFAULTS } from './defaults.js';

export interface LmInputs {
  readonly gpu: Gpu;
  readonly desc: ModelDescription;
  /** All full windows of each split (one seqLen); the options pick the first ones. */
  readonly train: TextWindows;
  readonly test: TextWindows;
}

/** The options only language models take. */
export interface LmOptions {
  /** The dtype the loaded weight matrices have on the device (recorded in the report; default f32). */
  readonly precision?: Precision;
  /** The dtype the export writes (recorded in the report). Default auto. */
  readonly saveDtype?: SaveDtype;
  /** Evaluate on the first N test windows only. */
  readonly evalLimit?: number;
}

/** One segment's scorer request: `score` (loss or GradNorm) of its keep-sets on the scoring batches. */
export interface SegmentRequest {
  readonly segment: readonly [number, number];
  readonly batches: readonly TextBatch[];
  readonly score: 'loss' | 'gradnorm';
  readonly hooks: FamilyHooks;
}

/** One perplexity evaluation: windows per batch, progress by windows done, the run's hooks. */
export interface EvalRun {
  readonly batch: number;
  readonly progress: (windows: number) => void;
  readonly hooks: FamilyHooks;
}

/** What a split has, for the message of a size it cannot give. */
const hasOnly = (split: TextWindows) =>
  `${split.name} (${split.split}) has only ${split.windows} windows of ${split.seqLen} tokens ` +
  `(${split.splitTokens} tokens)`;

function limited(data: TextWindows, limit: number | undefined): TextWindows {
  if (limit === undefined || limit >= data.windows) return data;
  return { ...data, windows: limit, ids: data.ids.subarray(0, limit * data.seqLen) };
}

/** The calibration options both implementations pass (calibrate-text.ts, calibrate-text-stream.ts). */
export function calibrationOptions(s: CalibrationSettings, observers: CosineScores[], hooks: FamilyHooks) {
  return {
    windows: s.samples,
    batchWindows: s.batch,
    estimator: s.estimator,
    signal: hooks.signal,
    observers,
    onProgress: (done: number, total: number) => hooks.progress({ stage: 'features', done, total }),
  };
}

/** The report's metrics of a perplexity evaluation. */
export const perplexityOf = (m: PerplexityMetrics): Measured<PerplexityMetrics> => ({
  metrics: m,
  report: { perplexity: m.perplexity, nll: m.nll, tokens: m.tokens },
});

/** A causal LM and its text windows; subclasses say where the weights are. */
export abstract class LmFamily implements ModelFamily<PerplexityMetrics> {
  readonly gpu: Gpu;
  readonly desc: ModelDescription;
  abstract readonly params: ParamStore | undefined;
  readonly defaults = SGLP_TEXT_DEFAULTS;
  readonly keepPlan = { protectedUnits: [] as number[], stem: null };
  /** The evaluation windows (the test split, or its first evalLimit windows). */
  protected readonly evalData: TextWindows;
  private peakBefore = 0;

  constructor(
    protected readonly inputs: LmInputs,
    protected readonly options: LmOptions,
  ) {
    const { desc, train, test } = inputs;
    if (desc.architecture !== 'llama') {
      throw new Error(`pruneLlm: architecture "${desc.architecture}" is not a decoder LM`);
    }
    if (test.seqLen !== train.seqLen) {
      throw new Error(`pruneLlm: train windows of ${train.seqLen} tokens, test of ${test.seqLen}`);
    }
    this.gpu = inputs.gpu;
    this.desc = desc;
    this.evalData = limited(test, options.evalLimit);
  }

  checkData(s: PruneSettings): void {
    const { train, test } = this.inputs;
    checkTrainSize(s, train.windows, hasOnly(train));
    if (this.evalData.windows === 0) throw new RangeError(`evaluation: ${hasOnly(test)}`);
  }

  /** The peak device memory is the run's own: reset here, the earlier peak restored in dispose(). */
  start(): void {
    const pool = this.gpu.pool;
    this.peakBefore = pool.peakBytes;
    pool.resetPeak();
  }

  dispose(): void {
    const pool = this.gpu.pool;
    pool.peakBytes = Math.max(this.peakBefore, pool.peakBytes);
  }

  abstract calibrate(
    s: CalibrationSettings,
    observers: CosineScores[],
    hooks: FamilyHooks,
  ): Promise<CalibrationResult>;

  /** One segment's scorer on the scoring batches (`score` loss or gradnorm). */
  protected abstract segmentScorer(request: SegmentRequest): Scorer;

  scorers(s: PruneSettings, hooks: FamilyHooks) {
    const score = s.score === 'loss' ? 'loss' : 'gradnorm';
    const batches = textBatches(this.inputs.train, s.gBatches * s.gSize, s.gSize);
    return {
      segment: (segment: readonly [number, number]) => this.segmentScorer({ segment, batches, score, hooks }),
      dispose: () => {},
    };
  }

  abstract prunedView(pruned: PrunedModel, s: PruneSettings): ParamView | undefined;

  /** Perplexity of the model, or of `target` (a pruning of it), with progress by batch and passes counted. */
  async evaluate(
    target: PrunedTarget | undefined,
    stage: PruneStage,
    s: EvalSettings,
    hooks: FamilyHooks,
  ): Promise<Measured<PerplexityMetrics>> {
    return perplexityOf(await this.perplexity(target, this.evalRun(stage, s, hooks)));
  }

  /** The evaluation of a stage: its batch size, and progress in batches of the evaluation windows. */
  protected evalRun(stage: PruneStage, s: EvalSettings, hooks: FamilyHooks): EvalRun {
    const batch = s.evalBatch;
    const total = Math.ceil(this.evalData.windows / batch);
    return { batch, hooks, progress: (w) => hooks.progress({ stage, done: Math.ceil(w / batch), total }) };
  }

  /** The perplexity on the evaluation windows, of the model or of `target`. */
  protected abstract perplexity(target: PrunedTarget | undefined, run: EvalRun): Promise<PerplexityMetrics>;

  given(before: PerplexityMetrics): Measured<PerplexityMetrics> {
    const want = this.evalData.windows * (this.evalData.seqLen - 1);
    if (before.tokens !== want) {
      throw new Error(`pruneLlm: options.before holds ${before.tokens} tokens, expected ${want}`);
    }
    return perplexityOf(before);
  }

  async repair(): Promise<null> {
    return null;
  }

  abstract finetune(
    target: PrunedTarget,
    s: PruneSettings,
    hooks: FamilyHooks,
  ): Promise<Finetuned | undefined>;

  isDefault(): boolean {
    return this.inputs.train.seqLen === SGLP_TEXT_DEFAULTS.seqLen;
  }

  /** Whether every stage reads the layers from the checkpoint (the report's device.memory says so). */
  protected abstract readonly streamed: boolean;

  reportFields() {
    const T = this.inputs.train.seqLen;
    const pool = this.gpu.pool;
    return {
      seqLen: T,
      wording: { calibration: `windows of ${T} tokens`, gradnormSuffix: ' windows', eval: 'windows' },
      precision: this.options.precision ?? 'f32',
      saveDtype: this.options.saveDtype ?? 'auto',
      memory: { peakDeviceBytes: pool.peakBytes, memoryCap: pool.memoryCap ?? null, streamed: this.streamed },
    };
  }
}
