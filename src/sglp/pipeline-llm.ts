// SGLP end to end on a loaded LLaMA-family decoder LM (SGLP.md §1–4, text protocol), the sibling of
// pipeline.ts for images: calibration windows → averaged CKA of the decoder layers' output hidden states →
// Fisher segmentation → keep plan (no stem) → GradNorm search per segment (next-token NLL) → the pruned
// model → perplexity before/after on the test split → the report. `method` swaps the keep plan and search
// for a baseline on the same calibration windows (block influence / angular on token rows). Segmentation,
// keep plan, candidate search and the report are the shared ones; only data, scoring and metrics differ.

import { type PrunedModel, pruneModel } from '../arch/prune.js';
import type { ModelDescription } from '../arch/types.js';
import { evaluatePerplexity, type PerplexityMetrics } from '../eval/perplexity.js';
import type { Gpu } from '../gpu/device.js';
import type { TextWindows } from '../io/text-data.js';
import { Llama } from '../nn/llama.js';
import type { ParamStore } from '../nn/params.js';
import { parseReport, type Report } from '../report/schema.js';
import { calibrateText } from './calibrate-text.js';
import type { Select } from './candidates.js';
import type { Estimator } from './cka.js';
import { ParamView } from './importance.js';
import { llmSegmentScorer, type TextBatch } from './importance-llm.js';
import type { PruneOptions } from './pipeline.js';
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

/** SGLP.md's default protocol for text (counts are windows of seqLen tokens). */
export const SGLP_TEXT_DEFAULTS = {
  seqLen: 128,
  samples: 16,
  batch: 4,
  gradnormBatches: 2,
  gradnormBatchSize: 4,
  evalBatch: 4,
  estimator: 'biased' as Estimator,
  select: 'min' as Select,
} as const;

/** PruneOptions for text: samples/batch/gradnorm sizes count windows; no fine-tuning (not for LMs yet). */
export type LlmPruneOptions = Omit<PruneOptions, 'finetune' | 'before'> & {
  /** The unpruned model's perplexity on the same windows, when already measured. */
  readonly before?: PerplexityMetrics;
};

export interface LlmPruneInputs {
  readonly gpu: Gpu;
  readonly desc: ModelDescription;
  readonly params: ParamStore;
  /** All full windows of each split (one seqLen); the options pick the first ones. */
  readonly train: TextWindows;
  readonly test: TextWindows;
}

export interface LlmPruneResult {
  readonly report: Report;
  readonly pruned: PrunedModel;
  readonly view: ParamView;
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

/** Runs SGLP (or a baseline) on a loaded decoder LM. */
export async function pruneLlm(inputs: LlmPruneInputs, options: LlmPruneOptions): Promise<LlmPruneResult> {
  const { gpu, desc, params, train, test } = inputs;
  if (desc.architecture !== 'llama') {
    throw new Error(`pruneLlm: architecture "${desc.architecture}" is not a decoder LM`);
  }
  const D = SGLP_TEXT_DEFAULTS;
  const T = train.seqLen;
  if (test.seqLen !== T) throw new Error(`pruneLlm: train windows of ${T} tokens, test of ${test.seqLen}`);
  const settings = resolveSettings(options, D, desc);
  const { sglp, samples, batch, gBatches, gSize, evalBatch, estimator, select, maxExhaustive } = settings;
  const windowsOf = (what: string, n: number, split: TextWindows) => {
    if (n > split.windows) {
      throw new RangeError(
        `${what}: ${split.name} (${split.split}) has only ${split.windows} windows of ${T} tokens ` +
          `(${split.splitTokens} tokens)`,
      );
    }
  };
  windowsOf(`--samples ${samples}`, samples, train);
  if (sglp)
    windowsOf(`--gradnorm-batches ${gBatches} x --gradnorm-batch-size ${gSize}`, gBatches * gSize, train);
  const evalData = limited(test, options.evalLimit);
  if (evalData.windows === 0) windowsOf('evaluation', 1, test);
  const signal = options.signal;
  const progress = options.onProgress ?? (() => {});
  const passes = { forward: 0, backward: 0 };
  const t0 = performance.now();
  const units = desc.units;
  const net = new Llama(gpu, desc, params);
  try {
    // 1–2. Calibration → CKA of the layers' hidden states, then the segmentation.
    const { calib, cosine, seg, segmentMs } = await calibrateAndSegment(
      settings,
      inputs,
      options.segments,
      (observers) =>
        calibrateText(gpu, net, train, {
          windows: samples,
          batchWindows: batch,
          estimator,
          signal,
          observers,
          onProgress: (done, total) => progress({ stage: 'features', done, total }),
        }),
      { progress, passes },
    );
    const { cka, featuresMs, ckaMs } = calib;

    // 3–4. Keep plan (no stem, nothing protected) + GradNorm search, or a baseline.
    const ti = performance.now();
    const search = (keep: readonly number[]) => {
      const gList = textBatches(train, gBatches * gSize, gSize);
      return searchSegments(
        seg.segments,
        keep,
        [],
        (s) => llmSegmentScorer(gpu, desc, params, s, gList, { counters: passes, signal }),
        { select, maxExhaustive, progress },
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
    const view = ParamView.ofPruned(params, pruned);

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
    let before: PerplexityMetrics;
    if (options.before) {
      const want = evalData.windows * (T - 1);
      if (options.before.tokens !== want) {
        throw new Error(`pruneLlm: options.before holds ${options.before.tokens} tokens, expected ${want}`);
      }
      before = options.before;
    } else before = await evaluate(net, 'eval-before');
    const prunedNet = new Llama(gpu, pruned.description, view.asStore());
    let after: PerplexityMetrics;
    try {
      after = await evaluate(prunedNet, 'eval-after');
    } finally {
      prunedNet.dispose();
    }
    const evalMs = performance.now() - te;

    const lm = (m: PerplexityMetrics) => ({ perplexity: m.perplexity, nll: m.nll, tokens: m.tokens });
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
      metrics: { before: lm(before), after: lm(after) },
      finetune: null,
      timings: { featuresMs, ckaMs, segmentMs, importanceMs, evalMs, finetuneMs: 0 },
      t0,
      passes,
    });
    return { report: parseReport(report, 'the prune report'), pruned, view };
  } finally {
    net.dispose();
  }
}

export type { PruneProgress };
