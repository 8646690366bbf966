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
import { METHODS, parseReport, type Report, type ReportUnit } from '../report/schema.js';
import {
  CosineScores,
  checkBudget,
  chooseLast,
  chooseLowest,
  chooseRandom,
  RANDOM_STREAM,
  removableUnits,
} from './baselines.js';
import { calibrateText } from './calibrate-text.js';
import { MAX_EXHAUSTIVE, type SegmentImportance, type Select, searchSegment } from './candidates.js';
import type { Estimator } from './cka.js';
import { ParamView } from './importance.js';
import { llmSegmentScorer, type TextBatch } from './importance-llm.js';
import { planKeep } from './keep-plan.js';
import {
  candidateCount,
  methodTargetError,
  type PruneOptions,
  type PruneProgress,
  type PruneStage,
} from './pipeline.js';
import { DEFAULT_MAX_SEGMENTS, ELBOW_THRESHOLD, segmentCka } from './segment.js';

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

function checkCount(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be an integer >= 1, got ${v}`);
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
  const samples = options.samples ?? D.samples;
  const batch = options.batch ?? D.batch;
  const gBatches = options.gradnormBatches ?? D.gradnormBatches;
  const gSize = options.gradnormBatchSize ?? D.gradnormBatchSize;
  const evalBatch = options.evalBatch ?? D.evalBatch;
  const estimator = options.estimator ?? D.estimator;
  const select = options.select ?? D.select;
  const maxExhaustive = options.maxExhaustive ?? MAX_EXHAUSTIVE;
  const method = options.method ?? 'sglp';
  const seed = options.seed ?? 0;
  if (!METHODS.includes(method)) {
    throw new Error(`--method must be one of ${METHODS.join(', ')}, got "${method}"`);
  }
  if (!Number.isSafeInteger(seed)) throw new RangeError(`--seed must be an integer, got ${seed}`);
  const targetError = methodTargetError(method, options.target);
  if (targetError) throw new Error(targetError);
  const sglp = method === 'sglp';
  if (!sglp) checkBudget(method, (options.target as { remove: number }).remove, removableUnits(desc));
  checkCount('--samples', samples);
  checkCount('--batch', batch);
  checkCount('--gradnorm-batches', gBatches);
  checkCount('--gradnorm-batch-size', gSize);
  checkCount('eval batch', evalBatch);
  checkCount('--max-exhaustive', maxExhaustive);
  if (options.evalLimit !== undefined) checkCount('--eval-limit', options.evalLimit);
  if (select !== 'min' && select !== 'max') throw new Error(`--select must be min or max, got "${select}"`);
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
  const names = units.map((u) => u.name);
  const net = new Llama(gpu, desc, params);
  try {
    // 1. Calibration → CKA; the scored baselines read the same hidden states in the same pass.
    const cosine =
      method === 'block-influence' || method === 'angular' ? new CosineScores(gpu, desc, params) : undefined;
    let calib: Awaited<ReturnType<typeof calibrateText>>;
    try {
      calib = await calibrateText(gpu, net, train, {
        windows: samples,
        batchWindows: batch,
        estimator,
        signal,
        observers: cosine ? [cosine] : [],
        onProgress: (done, total) => progress({ stage: 'features', done, total }),
      });
    } finally {
      cosine?.dispose();
    }
    const { cka, featuresMs, ckaMs } = calib;
    passes.forward += calib.forwardPasses;

    // 2. Segmentation.
    const ts = performance.now();
    const seg = segmentCka(cka.matrix, { names, segments: options.segments });
    const segmentMs = performance.now() - ts;
    progress({ stage: 'segment', done: 1, total: 1 });

    // 3–4. Keep plan + GradNorm search, or a baseline.
    const ti = performance.now();
    const perSegment: SegmentImportance[] = [];
    let removed: number[];
    let secondPass = false;
    let unitScores: Report['unitScores'];
    if (sglp) {
      const plan = planKeep(seg.segments, [], options.target, { stem: null });
      secondPass = plan.secondPass;
      const gList = textBatches(train, gBatches * gSize, gSize);
      const searched = seg.segments
        .map((s, i) => ({ s, i, keep: plan.keep[i] }))
        .filter(({ s, keep }) => keep < s[1] - s[0]);
      for (const [j, { s, i, keep }] of searched.entries()) {
        const segUnits = Array.from({ length: s[1] - s[0] }, (_, k) => s[0] + k);
        const score = llmSegmentScorer(gpu, desc, params, s, gList, { counters: passes, signal });
        const total = candidateCount(segUnits, [], keep, maxExhaustive);
        const detail =
          `segment ${i + 1} of ${seg.segments.length} (units ${s[0]}–${s[1] - 1}, keep ${keep}; ` +
          `searched segment ${j + 1} of ${searched.length})`;
        let scored = 0;
        const counted = async (set: readonly number[]) => {
          const v = await score(set);
          progress({ stage: 'importance', done: ++scored, total, detail });
          return v;
        };
        perSegment.push(await searchSegment(i, segUnits, [], keep, counted, select, maxExhaustive));
      }
      const keptSet = new Set<number>();
      seg.segments.forEach(([a, b], i) => {
        const best = perSegment.find((p) => p.segment === i);
        if (best) for (const u of best.best.units) keptSet.add(u);
        else for (let u = a; u < b; u++) keptSet.add(u);
      });
      removed = units.map((u) => u.index).filter((u) => !keptSet.has(u));
    } else {
      const R = (options.target as { remove: number }).remove;
      const removable = removableUnits(desc);
      if (method === 'random') removed = chooseRandom(removable, R, seed);
      else if (method === 'last') removed = chooseLast(removable, R);
      else {
        const scores = (cosine as CosineScores).scores(method);
        unitScores = { kind: method, scores };
        removed = chooseLowest(method, removable, scores, R);
      }
    }
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

    const reportUnits: ReportUnit[] = units.map((u) => ({
      index: u.index,
      name: u.name,
      protected: u.protected,
      params: u.params,
      macs: u.macs,
    }));
    const isDefault =
      T === D.seqLen &&
      samples === D.samples &&
      batch === D.batch &&
      (!sglp ||
        (gBatches === D.gradnormBatches &&
          gSize === D.gradnormBatchSize &&
          maxExhaustive === MAX_EXHAUSTIVE)) &&
      options.evalLimit === undefined;
    const sampling = (n: number, size: number) => ({
      split: 'train' as const,
      samples: n,
      batchSize: size,
      batches: Math.ceil(n / size),
      shuffleSeed: null,
    });
    const kinds = new Set(perSegment.map((p) => p.search));
    const notes: string[] = [];
    if (!isDefault) {
      notes.push(
        `reduced protocol: ${samples} calibration windows of ${T} tokens in batches of ${batch}` +
          (sglp ? `, GradNorm on ${gBatches} batch(es) of ${gSize} windows` : '') +
          (sglp && maxExhaustive !== MAX_EXHAUSTIVE
            ? `, exhaustive search up to ${maxExhaustive} candidates`
            : '') +
          (options.evalLimit !== undefined
            ? `, evaluation on the first ${options.evalLimit} test windows`
            : ''),
      );
    }
    if (method === 'random')
      notes.push(`random baseline: seed ${seed} (mulberry32, stream ${RANDOM_STREAM})`);
    if (!sglp)
      notes.push('CKA and the segmentation are shown for comparison; this baseline does not use them');
    if (secondPass) notes.push("--remove needed the keep plan's second pass (segments down to one unit)");
    if (sglp && select === 'max')
      notes.push("--select max: the candidate with the highest GradNorm was kept (the authors' direction)");
    const lm = (m: PerplexityMetrics) => ({ perplexity: m.perplexity, nll: m.nll, tokens: m.tokens });
    const report: Report = {
      version: 1,
      model: {
        name: desc.name,
        architecture: desc.architecture,
        input: options.input,
        output: options.output,
      },
      units: reportUnits,
      protocol: {
        preset: isDefault ? 'default' : 'reduced',
        method,
        seed,
        data: { spec: options.dataSpec, seqLen: T },
        features: sampling(samples, batch),
        estimator,
        segmentation: {
          segments: options.segments ?? null,
          maxSegments: DEFAULT_MAX_SEGMENTS,
          elbowThreshold: ELBOW_THRESHOLD,
        },
        target: options.target,
        importance: sglp
          ? { score: 'gradnorm', select, samples: sampling(gBatches * gSize, gSize), maxExhaustive }
          : null,
        eval: { split: 'test', limit: options.evalLimit ?? null },
        finetune: null,
      },
      cka: { estimator, batches: cka.batches, batchSize: cka.batchSize, matrix: cka.matrix },
      segmentation: {
        rowSums: seg.rowSums,
        lossByK: seg.lossByK,
        k: seg.k,
        kRule: seg.kRule,
        segments: seg.segments.map(([a, b]) => [a, b] as [number, number]),
      },
      ...(sglp
        ? {
            importance: {
              search: kinds.size === 2 ? 'mixed' : kinds.has('greedy') ? 'greedy' : 'exhaustive',
              perSegment: perSegment.map((p) => ({
                segment: p.segment,
                search: p.search,
                keep: p.keep,
                candidates: p.candidates.map((c) => ({ units: [...c.units], score: c.score })),
                best: { units: [...p.best.units], score: p.best.score },
              })),
            },
          }
        : {}),
      ...(unitScores ? { unitScores } : {}),
      kept,
      removed,
      metrics: { before: lm(before), after: lm(after) },
      size: {
        paramsBefore: desc.paramCount,
        paramsAfter: pruned.description.paramCount,
        macsBefore: desc.macs,
        macsAfter: pruned.description.macs,
      },
      timings: {
        featuresMs,
        ckaMs,
        segmentMs,
        importanceMs,
        evalMs,
        finetuneMs: 0,
        totalMs: performance.now() - t0,
      },
      passes,
      device: {
        vendor: gpu.adapter.vendor,
        architecture: gpu.adapter.architecture,
        description: gpu.adapter.description,
      },
      notes,
    };
    return { report: parseReport(report, 'the prune report'), pruned, view };
  } finally {
    net.dispose();
  }
}

export type { PruneProgress };
