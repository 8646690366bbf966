// sglp-report.json, version 1 (DESIGN.md, "Report"): the type and a zod schema that checks both the
// shape and that the parts agree with each other (one unit list, one matrix row per unit, segments that
// tile the units, kept + removed = all units, ...). The report is a contract that scripts read, so objects
// are strict: an unknown or misspelt key is an error rather than silently dropped.
//
// Conventions: unit references are indices into `units`; every list of indices is sorted ascending; times
// are milliseconds; accuracy is a fraction in [0, 1]; NLL is in nats per predicted token.

import * as z from 'zod';
import { checkReport } from './checks.js';
import { formatReportIssues } from './issues.js';

export const REPORT_VERSION = 1;

export const METHODS = ['sglp', 'random', 'last', 'block-influence', 'angular'] as const;
/**
 * SGLP's within-segment scores (docs/method.md §4): GradNorm (the paper's), the pruned network's
 * calibration loss, and the similarity score (each unit's block influence, no search).
 */
export const SCORES = ['gradnorm', 'loss', 'similarity'] as const;
export const ARCHITECTURES = ['cifar-resnet', 'resnet', 'vgg', 'llama'] as const;

const count = z.int().nonnegative();
const positive = z.int().positive();
const ms = z.number().nonnegative();
const split = z.enum(['train', 'test']);
const indexList = z.array(count);

/** One prunable unit (docs/method.md §0); `index` is its position in `units`. */
export const unitSchema = z.strictObject({
  index: count,
  /** State-dict prefix: `conv1`, `layer1.0`, `features.3`, `model.layers.7`. */
  name: z.string().min(1),
  /** Removing it would change tensor shapes, so it is always kept. */
  protected: z.boolean(),
  protectedReason: z.string().optional(),
  /** Learned parameters of the unit. */
  params: count,
  /** Multiply-accumulates of the unit for one sample (CNN) or one token (LM). */
  macs: count,
});

/** A kept conv whose weights were re-initialised (see `reinitialised` below). */
export const reinitSchema = z.strictObject({
  unit: count,
  name: z.string().min(1),
  reason: z.string().min(1),
});

/** Which samples a stage read: `batches` batches of `batchSize` samples (images, or text windows). */
export const samplingSchema = z.strictObject({
  split,
  samples: positive,
  batchSize: positive,
  batches: positive,
  /** null: file order (the default protocol); else the `--shuffle --seed` seed. */
  shuffleSeed: z.int().nullable(),
});

/** `--remove R` or `--keep-per-segment a,b,…` (the keep plan's request, docs/method.md §3). */
export const targetSchema = z.union([
  z.strictObject({ remove: count }),
  // Readonly, like the keep plan's KeepRequest, so that the request can be recorded as it was given.
  z.strictObject({ keepPerSegment: z.array(count).min(1).readonly() }),
]);

/** Every setting the run used, so that the run can be repeated exactly. */
export const protocolSchema = z.strictObject({
  /** 'default': docs/method.md's default protocol; 'reduced': fewer samples (the demo), and the page says so. */
  preset: z.enum(['default', 'reduced']),
  method: z.enum(METHODS),
  /** Seeds the random baseline and the fresh weights of re-initialised VGG convs. */
  seed: z.int(),
  data: z.strictObject({
    /** The `--data` spec as given, e.g. `fashion-mnist`, `text:corpus.txt`. */
    spec: z.string().min(1),
    /** Tokens per window for text; null for images. */
    seqLen: positive.nullable(),
  }),
  /** Calibration samples whose unit outputs feed CKA (and the block-influence/angular baselines). */
  features: samplingSchema,
  estimator: z.enum(['biased', 'unbiased']),
  /** Language models: the weight matrices' dtype on the device (`--precision`); absent means f32. */
  precision: z.enum(['f32', 'f16']).optional(),
  /** Language models: `--save-dtype` of the written tensors (auto: each in its input dtype); absent: F32. */
  saveDtype: z.enum(['auto', 'f32', 'f16', 'bf16']).optional(),
  segmentation: z.strictObject({
    /** `--segments K`; null: the elbow rule chose K. */
    segments: positive.nullable(),
    maxSegments: positive,
    elbowThreshold: z.number().positive(),
  }),
  target: targetSchema,
  /** SGLP's choice inside the segments; null for the baselines. */
  importance: z
    .strictObject({
      score: z.enum(SCORES),
      /** Which candidate score wins: GradNorm min or max, loss min, similarity max (most influence kept). */
      select: z.enum(['min', 'max']),
      /** What the score read: the scoring batches (gradnorm, loss) or the calibration samples (similarity). */
      samples: samplingSchema,
      /** Segments with at most this many candidates are searched exhaustively, others greedily. */
      maxExhaustive: positive,
    })
    .nullable(),
  /**
   * Batch-norm recalibration of the pruned model (docs/method.md, "Batch-norm recalibration"): the train
   * images its running statistics were re-estimated from; null: off, or a model without BN. Absent in
   * reports written before it existed.
   */
  recalibration: samplingSchema.nullable().optional(),
  eval: z.strictObject({
    split,
    /** `--limit N`; null: the whole split. */
    limit: positive.nullable(),
  }),
  /** null: no fine-tuning (`--finetune-epochs` absent or 0). */
  finetune: z
    .strictObject({
      epochs: positive,
      optimizer: z.enum(['sgd', 'adamw']),
      lr: z.number().positive(),
      schedule: z.enum(['cosine', 'constant']),
      /** SGD momentum; null for AdamW. */
      momentum: z.number().nonnegative().nullable(),
      weightDecay: z.number().nonnegative(),
      batchSize: positive,
      augment: z.boolean(),
      seed: z.int(),
      /** `--finetune-samples N`: the first N train samples (text: windows); null: all. */
      samples: positive.nullable().optional(),
      /** AdamW's linear warmup steps before the cosine decay (language models). */
      warmup: count.optional(),
    })
    .nullable(),
});

export const ckaSchema = z.strictObject({
  estimator: z.enum(['biased', 'unbiased']),
  batches: positive,
  /** Rows n of each batch's Grams: samples for images, tokens (windows × seqLen) for text. */
  batchSize: positive,
  /** L × L, averaged over batches, diagonal exactly 1. */
  matrix: z.array(z.array(z.number())),
});

export const segmentationSchema = z.strictObject({
  rowSums: z.array(z.number()),
  /** lossByK[k - 1] = Loss[L, k] of Fisher's optimal partition. */
  lossByK: z.array(z.number().nonnegative()).min(1),
  k: positive,
  kRule: z.enum(['elbow', 'fixed']),
  /** Units [start, end), contiguous, covering all units in order. */
  segments: z.array(z.tuple([count, count])).min(1),
});

export const candidateSchema = z.strictObject({
  /** The units the candidate keeps in its segment (protected ones included), sorted. */
  units: indexList,
  score: z.number(),
  /**
   * Optional: `score` is a lower bound above the best score at the time: the min search stopped scoring
   * this candidate once it could not win (docs/method.md §4, "Stopping early").
   */
  lowerBound: z.literal(true).optional(),
});

/** 'ranked': no search, the units were ranked by their own scores (the similarity score). */
const searchKind = z.enum(['exhaustive', 'greedy', 'ranked']);

export const segmentImportanceSchema = z.strictObject({
  /** Index into `segmentation.segments`. */
  segment: count,
  search: searchKind,
  keep: count,
  /** Every scored candidate, in the order scored (greedy: every step's trials). */
  candidates: z.array(candidateSchema).min(1),
  best: candidateSchema,
});

export const importanceSchema = z.strictObject({
  /** 'mixed' when some segments were searched exhaustively and others greedily. */
  search: z.enum(['exhaustive', 'greedy', 'mixed', 'ranked']),
  /** The segments that were searched (those that keep fewer units than they have), in order. */
  perSegment: z.array(segmentImportanceSchema),
  /**
   * Optional: how the search shared work (src/sglp/gradnorm-shared.ts), in units run per batch (the
   * stem counts as one): forward work done against what scoring each pruned network alone would do.
   */
  sharing: z
    .strictObject({
      candidates: count,
      unitForwards: count,
      unitForwardsPlain: count,
      unitBackwards: count,
      /** Optional (older reports lack them): backward units without early stops, candidates stopped. */
      unitBackwardsPlain: count.optional(),
      stopped: count.optional(),
      readbacks: count,
    })
    .optional(),
});

/**
 * The per-unit scores of the block-influence and angular baselines (and block influence for SGLP's
 * similarity score); null for units never scored.
 */
export const unitScoresSchema = z.strictObject({
  kind: z.enum(['block-influence', 'angular']),
  scores: z.array(z.number().nullable()),
});

export const classificationMetricsSchema = z.strictObject({
  accuracy: z.number().min(0).max(1),
  loss: z.number().nonnegative(),
  samples: positive,
});

export const languageMetricsSchema = z.strictObject({
  perplexity: z.number().min(1),
  nll: z.number().nonnegative(),
  tokens: positive,
});

export const evalMetricsSchema = z.union([classificationMetricsSchema, languageMetricsSchema]);

export const reportSchema = z
  .strictObject({
    version: z.literal(REPORT_VERSION),
    model: z.strictObject({
      /** For people: `ResNet-56`, `LLaMA (12 layers)`. */
      name: z.string().min(1),
      architecture: z.enum(ARCHITECTURES),
      /** The model directory read, and the pruned one written. */
      input: z.string().min(1),
      output: z.string().min(1),
    }),
    units: z.array(unitSchema).min(1),
    protocol: protocolSchema,
    cka: ckaSchema,
    segmentation: segmentationSchema,
    importance: importanceSchema.optional(),
    unitScores: unitScoresSchema.optional(),
    kept: indexList,
    removed: indexList,
    /**
     * VGG convs that got fresh weights because their input width changed (docs/method.md §0), ascending by unit:
     * `unit` indexes `units` (a kept unit), `name` is its name in the pruned model (`features.N`
     * renumbered), `reason` says which removal changed the width. The weights are PyTorch's default Conv2d
     * init drawn from `protocol.seed`; the conv's BN keeps its pretrained tensors. Absent when none.
     */
    reinitialised: z.array(reinitSchema).min(1).optional(),
    metrics: z.strictObject({
      before: evalMetricsSchema,
      after: evalMetricsSchema,
      /** After batch-norm recalibration (protocol.recalibration), before any fine-tuning. */
      recalibrated: evalMetricsSchema.optional(),
      afterFinetune: evalMetricsSchema.optional(),
    }),
    size: z.strictObject({
      paramsBefore: count,
      paramsAfter: count,
      macsBefore: count,
      macsAfter: count,
    }),
    timings: z.strictObject({
      featuresMs: ms,
      ckaMs: ms,
      segmentMs: ms,
      importanceMs: ms,
      evalMs: ms,
      /** Batch-norm recalibration (absent in older reports). */
      recalibrateMs: ms.optional(),
      finetuneMs: ms,
      totalMs: ms,
    }),
    /** Whole-network passes over one batch, as the engine counted them. */
    passes: z.strictObject({ forward: count, backward: count }),
    /** The WebGPU adapter's info (strings may be empty where the adapter hides them). */
    device: z.strictObject({
      vendor: z.string(),
      architecture: z.string(),
      description: z.string(),
      /**
       * Language models: the most device bytes the run had live (pool accounting: loaded weights or the
       * streamed layer, activations, states), `--memory-cap` (null: none) and whether layers were streamed.
       */
      memory: z
        .strictObject({ peakDeviceBytes: count, memoryCap: count.nullable(), streamed: z.boolean() })
        .optional(),
    }),
    /** Things a reader must know, e.g. "features.7 re-initialised". */
    notes: z.array(z.string()),
  })
  .superRefine(checkReport);

export type Report = z.infer<typeof reportSchema>;
export type ReportUnit = z.infer<typeof unitSchema>;
export type Protocol = z.infer<typeof protocolSchema>;
export type Sampling = z.infer<typeof samplingSchema>;
export type ReportSegmentation = z.infer<typeof segmentationSchema>;
export type ReportImportance = z.infer<typeof importanceSchema>;
export type ReportSegmentImportance = z.infer<typeof segmentImportanceSchema>;
export type Candidate = z.infer<typeof candidateSchema>;
export type UnitScores = z.infer<typeof unitScoresSchema>;
export type EvalMetrics = z.infer<typeof evalMetricsSchema>;
export type ClassificationMetrics = z.infer<typeof classificationMetricsSchema>;
export type LanguageMetrics = z.infer<typeof languageMetricsSchema>;
export type Method = (typeof METHODS)[number];
export type Score = (typeof SCORES)[number];
export type Timings = Report['timings'];

/** A report that failed to parse; `issues` holds one line per problem, each naming the field. */
export class ReportError extends Error {
  constructor(
    readonly source: string,
    readonly issues: readonly string[],
  ) {
    super(`${source} is not a valid sglp report (version ${REPORT_VERSION}):\n  ${issues.join('\n  ')}`);
    this.name = 'ReportError';
  }
}

/**
 * Checks a report (its JSON text, or the parsed value) and returns it typed. Throws a ReportError whose
 * lines name each bad field, e.g. `field "cka.matrix[3]": has 27 values, expected 28 (one per unit)`.
 */
export function parseReport(json: unknown, source = 'sglp-report.json'): Report {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new ReportError(source, [`not valid JSON: ${(e as Error).message}`]);
    }
  }
  const result = reportSchema.safeParse(value);
  if (!result.success) throw new ReportError(source, formatReportIssues(result.error.issues, value));
  return result.data;
}

/** The report without its timings: two runs of the same command must give equal values of this. */
export function reportWithoutTimings(report: Report): Omit<Report, 'timings'> {
  const { timings: _timings, ...rest } = report;
  return rest;
}

/** Whether the metrics are a classifier's (accuracy) or a language model's (perplexity). */
export function isClassification(m: EvalMetrics): m is ClassificationMetrics {
  return 'accuracy' in m;
}
