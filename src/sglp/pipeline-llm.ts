// SGLP end to end on a LLaMA-family decoder LM, loaded or streamed layer by layer from its checkpoint
// (pipeline-llm-stream.ts; docs/method.md §1–4, text protocol), the sibling of
// pipeline.ts for images: calibration windows → averaged CKA of the decoder layers' output hidden states →
// Fisher segmentation → keep plan (no stem) → GradNorm search per segment (next-token NLL) → the pruned
// model → perplexity before/after on the test split (→ optional AdamW fine-tuning of a copy, evaluated again)
// → the report. `method` swaps the keep plan and search for a baseline on the same calibration windows
// (block influence / angular on token rows). Segmentation, keep plan, candidate search and the report are
// the shared ones; only data, scoring and metrics differ.

import { type PrunedModel, pruneModel } from '../arch/prune.js';
import type { ModelDescription } from '../arch/types.js';
import { evaluatePerplexity, type PerplexityMetrics } from '../eval/perplexity.js';
import type { Gpu } from '../gpu/device.js';
import type { TextWindows } from '../io/text-data.js';
import { Llama } from '../nn/llama.js';
import type { ParamStore, Precision } from '../nn/params.js';
import { parseReport, type Report, type Score } from '../report/schema.js';
import { calibrateText } from './calibrate-text.js';
import { calibrateTextStreamed } from './calibrate-text-stream.js';
import type { Select } from './candidates.js';
import type { Estimator } from './cka.js';
import type { SaveDtype } from './export.js';
import { finetuneLmStage, type LmFinetuneRequest } from './finetune-lm-stage.js';
import { ParamView } from './importance.js';
import { llmSegmentScorer, type TextBatch } from './importance-llm.js';
import { streamedLlmSegmentScorer } from './importance-llm-stream.js';
import type { PruneOptions } from './pipeline.js';
import { type LlmStreamInput, streamedPerplexity } from './pipeline-llm-stream.js';
import { buildReport } from './report-build.js';
import {
  calibrateAndSegment,
  chooseRemoved,
  isDefaultProtocol,
  type PruneProgress,
  type PruneStage,
  resolveSettings,
  searchSegments,
} from './search-stage.js';

/** docs/method.md's default protocol for text (counts are windows of seqLen tokens). */
export const SGLP_TEXT_DEFAULTS = {
  seqLen: 128,
  samples: 16,
  batch: 4,
  gradnormBatches: 2,
  gradnormBatchSize: 4,
  evalBatch: 4,
  estimator: 'biased' as Estimator,
  select: 'min' as Select,
  /** The selection benchmark's winner for language models (bench/RESULTS.md, "Selection benchmark"). */
  score: 'loss' as Score,
} as const;

/** PruneOptions for text: samples/batch/gradnorm sizes and fine-tuning samples count windows. */
export type LlmPruneOptions = Omit<PruneOptions, 'finetune' | 'before' | 'recalibrate'> & {
  /** The unpruned model's perplexity on the same windows, when already measured. */
  readonly before?: PerplexityMetrics;
  /** The dtype the loaded weight matrices have on the device (recorded in the report; default f32). */
  readonly precision?: Precision;
  /** The dtype the export writes (recorded in the report; the CLI writes the files). Default auto. */
  readonly saveDtype?: SaveDtype;
  /** `--finetune-epochs E` (docs/method.md §5): fine-tune a copy with AdamW, then evaluate it again. */
  readonly finetune?: LmFinetuneRequest;
};

export interface LlmPruneInputs {
  readonly gpu: Gpu;
  readonly desc: ModelDescription;
  /** The loaded tensors; or, instead, `stream`. */
  readonly params?: ParamStore;
  /**
   * Layer streaming (pipeline-llm-stream.ts): every stage reads the decoder layers one at a time from the
   * checkpoint, so the model need not fit on the device. No fine-tuning.
   */
  readonly stream?: LlmStreamInput;
  /** All full windows of each split (one seqLen); the options pick the first ones. */
  readonly train: TextWindows;
  readonly test: TextWindows;
}

export interface LlmPruneResult {
  readonly report: Report;
  readonly pruned: PrunedModel;
  /** The pruned model over the loaded tensors; absent when streamed (export from the checkpoint). */
  readonly view?: ParamView;
  /** With options.finetune: the fine-tuned tensors under the pruned names (the caller disposes them). */
  readonly finetuned?: ParamStore;
}

/** The first `count` windows of `data` in batches of `size`. */
function textBatches(data: TextWindows, count: number, size: number): TextBatch[] {
  const T = data.seqLen;
  const out: TextBatch[] = [];
  for (let w = 0; w < count; w += size) {
    const b = Math.min(size, count - w);
    out.push({ ids: data.ids.subarray(w * T, (w + b) * T), batch: b, seq: T });
  }
  return out;
}

function limited(data: TextWindows, limit: number | undefined): TextWindows {
  if (limit === undefined || limit >= data.windows) return data;
  return { ...data, windows: limit, ids: data.ids.subarray(0, limit * data.seqLen) };
}

/** Runs SGLP (or a baseline) on a decoder LM, loaded (`params`) or streamed (`stream`). */
export async function pruneLlm(inputs: LlmPruneInputs, options: LlmPruneOptions): Promise<LlmPruneResult> {
  const { gpu, desc, params, stream, train, test } = inputs;
  if (desc.architecture !== 'llama') {
    throw new Error(`pruneLlm: architecture "${desc.architecture}" is not a decoder LM`);
  }
  if (!params === !stream) throw new Error('pruneLlm: give exactly one of params (loaded) and stream');
  if (stream && options.finetune) {
    throw new Error('--finetune-epochs needs the model loaded on the device; it does not run with --stream');
  }
  const D = SGLP_TEXT_DEFAULTS;
  const T = train.seqLen;
  if (test.seqLen !== T) throw new Error(`pruneLlm: train windows of ${T} tokens, test of ${test.seqLen}`);
  const settings = resolveSettings(options, D, desc);
  const { sglp, samples, batch, gBatches, gSize, evalBatch, estimator, select, maxExhaustive, score } =
    settings;
  const windowsOf = (what: string, n: number, split: TextWindows) => {
    if (n > split.windows) {
      throw new RangeError(
        `${what}: ${split.name} (${split.split}) has only ${split.windows} windows of ${T} tokens ` +
          `(${split.splitTokens} tokens)`,
      );
    }
  };
  windowsOf(`--samples ${samples}`, samples, train);
  if (sglp && score !== 'similarity')
    windowsOf(`--gradnorm-batches ${gBatches} x --gradnorm-batch-size ${gSize}`, gBatches * gSize, train);
  const evalData = limited(test, options.evalLimit);
  if (evalData.windows === 0) windowsOf('evaluation', 1, test);
  const signal = options.signal;
  const progress = options.onProgress ?? (() => {});
  const passes = { forward: 0, backward: 0 };
  const t0 = performance.now();
  const units = desc.units;
  const net = params ? new Llama(gpu, desc, params) : undefined;
  const pool = gpu.pool;
  const peakBefore = pool.peakBytes;
  pool.resetPeak();
  try {
    // 1–2. Calibration → CKA of the layers' hidden states, then the segmentation.
    const { calib, cosine, seg, segmentMs } = await calibrateAndSegment(
      settings,
      inputs,
      options.segments,
      (observers) => {
        const calibration = {
          windows: samples,
          batchWindows: batch,
          estimator,
          signal,
          observers,
          onProgress: (done: number, total: number) => progress({ stage: 'features', done, total }),
        };
        if (net) return calibrateText(gpu, net, train, calibration);
        // Once per batch: one batch's CKA state on the device (L·n² floats, more than a small model's
        // weights); the extra checkpoint reads are few next to GradNorm's two per candidate.
        return calibrateTextStreamed(gpu, desc, (stream as LlmStreamInput).store, train, {
          ...calibration,
          perBatch: true,
          hostStates: stream?.hostStates ?? false,
        });
      },
      { progress, passes },
      options.calibrationCache,
    );
    const { cka, featuresMs, ckaMs } = calib;

    // 3–4. Keep plan (no stem, nothing protected) + GradNorm search, or a baseline.
    const ti = performance.now();
    const search = (keep: readonly number[]) => {
      const searched = score === 'loss' ? 'loss' : 'gradnorm';
      const gList = textBatches(train, gBatches * gSize, gSize);
      return searchSegments(
        seg.segments,
        keep,
        [],
        (s) =>
          params
            ? llmSegmentScorer(gpu, desc, params, s, gList, { counters: passes, signal, score: searched })
            : streamedLlmSegmentScorer(gpu, desc, (stream as LlmStreamInput).store, s, gList, {
                counters: passes,
                signal,
                hostStates: stream?.hostStates ?? false,
                score: searched,
              }),
        { select, maxExhaustive, score, progress },
      );
    };
    const { removed, perSegment, secondPass, unitScores } = await chooseRemoved(
      settings,
      desc,
      seg,
      options.target,
      { protectedUnits: [], stem: null },
      cosine,
      search,
    );
    const importanceMs = performance.now() - ti;
    const removedSet = new Set(removed);
    const kept = units.map((u) => u.index).filter((u) => !removedSet.has(u));
    const pruned = pruneModel(desc, removed);
    const view = params ? ParamView.ofPruned(params, pruned) : undefined;

    // 5. Perplexity before and after on the test split.
    const te = performance.now();
    const evaluate = async (model: Llama, stage: PruneStage): Promise<PerplexityMetrics> => {
      const total = Math.ceil(evalData.windows / evalBatch);
      const counted = {
        nextTokenLoss: async (ids: ArrayLike<number>, b: number, seq: number) => {
          signal?.throwIfAborted();
          const r = await model.nextTokenLoss(ids, b, seq);
          passes.forward++;
          return r;
        },
      };
      return evaluatePerplexity(counted, evalData, {
        batch: evalBatch,
        onProgress: (p) => progress({ stage, done: Math.ceil(p.windows / evalBatch), total }),
      });
    };
    const evaluateStreamed = (model: PrunedModel | undefined, stage: PruneStage) =>
      streamedPerplexity(gpu, desc, stream as LlmStreamInput, model, evalData, {
        batch: evalBatch,
        stage,
        progress,
        passes,
        signal,
      });
    let before: PerplexityMetrics;
    if (options.before) {
      const want = evalData.windows * (T - 1);
      if (options.before.tokens !== want) {
        throw new Error(`pruneLlm: options.before holds ${options.before.tokens} tokens, expected ${want}`);
      }
      before = options.before;
    } else
      before = net ? await evaluate(net, 'eval-before') : await evaluateStreamed(undefined, 'eval-before');
    let after: PerplexityMetrics;
    if (view) {
      const prunedNet = new Llama(gpu, pruned.description, view.asStore());
      try {
        after = await evaluate(prunedNet, 'eval-after');
      } finally {
        prunedNet.dispose();
      }
    } else after = await evaluateStreamed(pruned, 'eval-after');
    const evalMs = performance.now() - te;
    const tuned =
      options.finetune && view
        ? await finetuneLmStage(gpu, pruned, view, train, options.finetune, {
            evaluate: (m) => evaluate(m, 'eval-finetuned'),
            onProgress: progress,
            signal,
            counters: passes,
          })
        : undefined;

    const lm = (m: PerplexityMetrics) => ({ perplexity: m.perplexity, nll: m.nll, tokens: m.tokens });
    // The fine-tuned store is the caller's only once this returns.
    try {
      const report = buildReport({
        gpu,
        desc,
        pruned: pruned.description,
        settings,
        isDefault: T === D.seqLen && isDefaultProtocol(settings, D, options.evalLimit),
        options,
        seqLen: T,
        wording: { calibration: `windows of ${T} tokens`, gradnormSuffix: ' windows', eval: 'windows' },
        cka,
        seg,
        perSegment,
        unitScores,
        secondPass,
        kept,
        removed,
        metrics: {
          before: lm(before),
          after: lm(after),
          ...(tuned ? { afterFinetune: lm(tuned.metrics) } : {}),
        },
        finetune: tuned?.protocol ?? null,
        timings: {
          featuresMs,
          ckaMs,
          segmentMs,
          importanceMs,
          evalMs: evalMs + (tuned?.evalMs ?? 0),
          finetuneMs: tuned?.trainMs ?? 0,
        },
        t0,
        passes,
        precision: options.precision ?? 'f32',
        saveDtype: options.saveDtype ?? 'auto',
        memory: { peakDeviceBytes: pool.peakBytes, memoryCap: pool.memoryCap ?? null, streamed: !!stream },
      });
      return { report: parseReport(report, 'the prune report'), pruned, view, finetuned: tuned?.params };
    } catch (e) {
      tuned?.params.dispose();
      throw e;
    }
  } finally {
    net?.dispose();
    pool.peakBytes = Math.max(peakBefore, pool.peakBytes);
  }
}

export type { PruneProgress };
