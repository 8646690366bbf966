// The prune report (report/schema.ts) as the pipeline writes it: what differs between model families
// (data wording, metrics, fine-tuning, pass sharing) comes in from the caller, the rest is built here.

import type { ReinitUnit } from '../arch/prune.js';
import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Precision } from '../nn/params.js';
import { RANDOM_STREAM } from './baselines.js';
import { MAX_EXHAUSTIVE, type SegmentImportance } from './candidates.js';
import type { SaveDtype } from './export.js';
import type { KeepRequest } from './keep-plan.js';
import type { Report, ReportUnit } from './report/schema.js';
import type { PruneSettings } from './search-stage.js';
import { DEFAULT_MAX_SEGMENTS, ELBOW_THRESHOLD, type segmentCka } from './segment.js';

export interface ReportInputs {
  readonly gpu: Gpu;
  readonly desc: ModelDescription;
  readonly pruned: ModelDescription;
  readonly settings: PruneSettings;
  readonly isDefault: boolean;
  readonly options: {
    readonly target: KeepRequest;
    readonly segments?: number;
    readonly evalLimit?: number;
    readonly dataSpec: string;
    readonly input: string;
    readonly output: string;
  };
  /** Text: the window length; images: null. */
  readonly seqLen: number | null;
  /** How the reduced-protocol note names what is counted. */
  readonly wording: {
    /** e.g. `samples`, `windows of 128 tokens`. */
    readonly calibration: string;
    /** After a GradNorm batch size, e.g. '' or ' windows'. */
    readonly gradnormSuffix: string;
    /** e.g. `samples`, `windows`. */
    readonly eval: string;
  };
  /** The averaged CKA (its estimator is the settings'). */
  readonly cka: Omit<Report['cka'], 'estimator'>;
  readonly seg: ReturnType<typeof segmentCka>;
  readonly perSegment: readonly SegmentImportance[];
  /** Images: the GradNorm pass-sharing totals. */
  readonly sharing?: NonNullable<Report['importance']>['sharing'];
  readonly unitScores: Report['unitScores'];
  readonly secondPass: boolean;
  readonly kept: number[];
  readonly removed: number[];
  /** Convs of the pruned model that got fresh weights (VGG, arch/prune.ts); none when absent. */
  readonly reinit?: readonly ReinitUnit[];
  readonly metrics: Report['metrics'];
  readonly finetune: Report['protocol']['finetune'];
  /** Batch-norm recalibration's images and batch; null: off or no BN; absent: language models. */
  readonly recalibration?: { readonly images: number; readonly batch: number } | null;
  readonly timings: Omit<Report['timings'], 'totalMs'>;
  /** performance.now() at the start, for timings.totalMs. */
  readonly t0: number;
  readonly passes: Report['passes'];
  /** Language models: the weights' dtype on the device (--precision). */
  readonly precision?: Precision;
  /** Language models: the save dtype of the export (--save-dtype). */
  readonly saveDtype?: SaveDtype;
  /** Device memory of the run (language models). */
  readonly memory?: NonNullable<Report['device']['memory']>;
}

function sampling(n: number, size: number) {
  return {
    split: 'train' as const,
    samples: n,
    batchSize: size,
    batches: Math.ceil(n / size),
    shuffleSeed: null,
  };
}

function protocolNotes(r: ReportInputs): string[] {
  const { samples, batch, gBatches, gSize, maxExhaustive, method, sglp, seed, select, score } = r.settings;
  const searched = sglp && score !== 'similarity';
  const { evalLimit } = r.options;
  const notes: string[] = [];
  if (!r.isDefault) {
    notes.push(
      `reduced protocol: ${samples} calibration ${r.wording.calibration} in batches of ${batch}` +
        (searched
          ? `, ${score === 'loss' ? 'loss' : 'GradNorm'} on ${gBatches} batch(es) of ${gSize}${r.wording.gradnormSuffix}`
          : '') +
        (searched && maxExhaustive !== MAX_EXHAUSTIVE
          ? `, exhaustive search up to ${maxExhaustive} candidates`
          : '') +
        (evalLimit !== undefined ? `, evaluation on the first ${evalLimit} test ${r.wording.eval}` : ''),
    );
  }
  if (method === 'random') notes.push(`random baseline: seed ${seed} (mulberry32, stream ${RANDOM_STREAM})`);
  if (!sglp) notes.push('CKA and the segmentation are shown for comparison; this baseline does not use them');
  if (r.secondPass)
    notes.push(
      `removing ${r.removed.length} units left some segments with a single unit (the larger segments alone could not give that many)`,
    );
  if (r.recalibration === null && r.seqLen === null)
    notes.push('batch-norm recalibration off (--recalibrate 0)');
  if (sglp && score === 'gradnorm' && select === 'max')
    notes.push("--select max: the candidate with the highest GradNorm was kept (the authors' direction)");
  for (const x of r.reinit ?? []) {
    notes.push(
      `${x.oldName} re-initialised (now ${x.name}): ${x.reason}; PyTorch's default Conv2d init, seed ${seed}, its BN kept`,
    );
  }
  return notes;
}

/** The report object, in the schema's key order (the caller validates it with parseReport). */
export function buildReport(r: ReportInputs): Report {
  const { desc, pruned, options, seg, perSegment, gpu } = r;
  const { method, seed, samples, batch, gBatches, gSize, estimator, select, score, maxExhaustive, sglp } =
    r.settings;
  const units: ReportUnit[] = desc.units.map((u) => ({
    index: u.index,
    name: u.name,
    protected: u.protected,
    ...(u.protectedReason !== undefined ? { protectedReason: u.protectedReason } : {}),
    params: u.params,
    macs: u.macs,
  }));
  const kinds = new Set(perSegment.map((p) => p.search));
  const notes = protocolNotes(r);
  return {
    version: 1,
    model: { name: desc.name, architecture: desc.architecture, input: options.input, output: options.output },
    units,
    protocol: {
      preset: r.isDefault ? 'default' : 'reduced',
      method,
      seed,
      data: { spec: options.dataSpec, seqLen: r.seqLen },
      features: sampling(samples, batch),
      estimator,
      ...(r.precision ? { precision: r.precision } : {}),
      ...(r.saveDtype ? { saveDtype: r.saveDtype } : {}),
      segmentation: {
        segments: options.segments ?? null,
        maxSegments: DEFAULT_MAX_SEGMENTS,
        elbowThreshold: ELBOW_THRESHOLD,
      },
      target: options.target,
      importance: sglp
        ? {
            score,
            select,
            samples: score === 'similarity' ? sampling(samples, batch) : sampling(gBatches * gSize, gSize),
            maxExhaustive,
          }
        : null,
      ...(r.recalibration !== undefined
        ? { recalibration: r.recalibration && sampling(r.recalibration.images, r.recalibration.batch) }
        : {}),
      eval: { split: 'test', limit: options.evalLimit ?? null },
      finetune: r.finetune,
    },
    cka: { estimator, batches: r.cka.batches, batchSize: r.cka.batchSize, matrix: r.cka.matrix },
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
            search: kinds.has('ranked')
              ? 'ranked'
              : kinds.size === 2
                ? 'mixed'
                : kinds.has('greedy')
                  ? 'greedy'
                  : 'exhaustive',
            perSegment: perSegment.map((p) => ({
              segment: p.segment,
              search: p.search,
              keep: p.keep,
              candidates: p.candidates.map((c) => ({
                units: [...c.units],
                score: c.score,
                ...(c.lowerBound ? { lowerBound: true as const } : {}),
              })),
              best: { units: [...p.best.units], score: p.best.score },
            })),
            ...(r.sharing ? { sharing: r.sharing } : {}),
          },
        }
      : {}),
    ...(r.unitScores ? { unitScores: r.unitScores } : {}),
    kept: r.kept,
    removed: r.removed,
    ...(r.reinit && r.reinit.length > 0
      ? {
          reinitialised: r.reinit.map((x) => ({ unit: x.oldUnit, name: x.name, reason: x.reason })),
        }
      : {}),
    metrics: r.metrics,
    size: {
      paramsBefore: desc.paramCount,
      paramsAfter: pruned.paramCount,
      macsBefore: desc.macs,
      macsAfter: pruned.macs,
    },
    timings: { ...r.timings, totalMs: performance.now() - r.t0 },
    passes: r.passes,
    device: {
      vendor: gpu.adapter.vendor,
      architecture: gpu.adapter.architecture,
      description: gpu.adapter.description,
      ...(r.memory ? { memory: r.memory } : {}),
    },
    notes,
  };
}
