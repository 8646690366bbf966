// What `sglp prune` for classifiers (prune.ts) and for language models (prune-llm.ts), and `sglp compare`,
// share: the options, the --out check, progress on stderr, the pipeline's protocol options, and writing
// and printing the report (the summary itself: prune-summary.ts).

import type { ClassifierMetrics } from '../eval/classify.js';
import type { PerplexityMetrics } from '../eval/perplexity.js';
import type { Gpu } from '../gpu/device.js';
import { listDirectory, pathIn, writeFileAtomic } from '../node/files.js';
import { renderReportHtml } from '../report/html.js';
import type { CalibrationCache } from '../sglp/calibration-stage.js';
import type { Select } from '../sglp/candidates.js';
import type { Report } from '../sglp/report/schema.js';
import { SCORES, type Score } from '../sglp/report/schema.js';
import type { PruneProgress, PruneStage } from '../sglp/search-stage.js';
import { type CliIo, Progress } from './progress.js';

export interface PruneCliOptions {
  readonly data: string;
  readonly remove?: number;
  /** `a,b,c` as given. */
  readonly keepPerSegment?: string;
  readonly segments?: number;
  readonly select?: string;
  readonly score?: string;
  /** Images: batch-norm recalibration images (0: off). */
  readonly recalibrate?: number;
  readonly method?: string;
  /** Seeds the random baseline and re-initialised VGG convs (default 0). */
  readonly seed?: number;
  readonly finetuneEpochs?: number;
  /** Fine-tune on the first N train samples (text: windows) only; default all. */
  readonly finetuneSamples?: number;
  /** Fine-tuning learning rate instead of the family's default (bench/RESULTS.md: lower it for short runs). */
  readonly finetuneLr?: number;
  /** Dtype of the written tensors: auto (the input's, per tensor; CNNs: F32), f32, f16 or bf16. */
  readonly saveDtype?: string;
  readonly samples?: number;
  readonly batch?: number;
  readonly gradnormBatches?: number;
  readonly gradnormBatchSize?: number;
  readonly maxExhaustive?: number;
  readonly evalLimit?: number;
  /** text:FILE and a language model only: tokens per window (default 128). */
  readonly seqLen?: number;
  /** Language models only: f32 or f16 weight matrices on the device (default f32). */
  readonly precision?: string;
  /** Language models only: layer streaming, one decoder layer on the device at a time (prune-llm.ts). */
  readonly stream?: boolean;
  /** Language models only: fail any allocation that takes device memory past this many bytes. */
  readonly memoryCap?: number;
  readonly out: string;
  readonly json?: boolean;
}

export interface PruneDeps {
  readonly io?: CliIo;
  readonly gpu?: Gpu;
  readonly signal?: AbortSignal;
  /** The unpruned model's metrics on the same test samples, already measured (`sglp compare`). */
  readonly before?: ClassifierMetrics | PerplexityMetrics;
  /** Calibration kept across the runs of `sglp compare` on one model. */
  readonly calibrationCache?: CalibrationCache;
}

export const REPORT_FILE = 'sglp-report.json';
export const REPORT_HTML = 'report.html';

/** --out must be new or empty (hidden entries aside). */
export async function checkEmptyDir(out: string): Promise<void> {
  const entries = await listDirectory(out, true);
  if (entries.some((e) => !e.startsWith('.'))) {
    throw new Error(`--out ${out} is not empty; give a new or empty directory`);
  }
}

const STAGE_LABEL: Record<PruneStage, string> = {
  features: 'calibration features + CKA',
  cka: 'CKA',
  segment: 'segmentation',
  importance: 'search inside the segments',
  'eval-before': 'eval before',
  'eval-after': 'eval after',
  recalibrate: 'batch-norm recalibration',
  'eval-recalibrated': 'eval after recalibration',
  finetune: 'fine-tuning',
  'eval-finetuned': 'eval after fine-tuning',
};

/** Progress on stderr: a bar per batch stage, a line per segment's search every few seconds. */
export function progressReporter(io: CliIo): { onProgress: (p: PruneProgress) => void; stop: () => void } {
  let bar: Progress | undefined;
  let barStage: PruneStage | undefined;
  let lastLine = 0;
  let searchStart = 0;
  const stop = () => {
    bar?.stop();
    bar = undefined;
    barStage = undefined;
  };
  return {
    stop,
    onProgress: (p) => {
      if (p.stage === 'importance') {
        stop();
        const now = performance.now();
        if (p.done === 1) searchStart = now;
        if (now - lastLine > 10_000 || p.done === 1 || p.done === p.total) {
          lastLine = now;
          const rate = (p.done - 1) / ((now - searchStart) / 1000);
          const eta = p.done > 1 && rate > 0 ? `, ~${Math.ceil((p.total - p.done) / rate)} s left` : '';
          io.stderr(
            `${p.label ?? STAGE_LABEL[p.stage]}: ${p.detail ?? ''}: ${p.done}/${p.total} candidates` +
              `${p.done > 1 ? ` (${rate.toFixed(2)}/s${eta})` : ''}\n`,
          );
        }
        return;
      }
      if (p.stage === 'segment') return;
      if (barStage !== p.stage) {
        stop();
        // Stages report batches done, no rate or loss: the bar shows only what it has.
        bar = new Progress(io, STAGE_LABEL[p.stage], p.total, 'batches', '');
        barStage = p.stage;
      }
      bar?.update(p.done);
    },
  };
}

/** `--score` checked against the scores there are. */
export function parseScore(score: string | undefined): Score | undefined {
  if (score !== undefined && !(SCORES as readonly string[]).includes(score)) {
    throw new Error(`--score must be one of ${SCORES.join(', ')}, got "${score}"`);
  }
  return score as Score | undefined;
}

/** The protocol flags as both pipelines take them; what is not given takes the pipeline's default. */
export function protocolOptions(opts: PruneCliOptions) {
  return {
    seed: opts.seed,
    segments: opts.segments,
    select: opts.select as Select | undefined,
    score: parseScore(opts.score),
    samples: opts.samples,
    batch: opts.batch,
    gradnormBatches: opts.gradnormBatches,
    gradnormBatchSize: opts.gradnormBatchSize,
    maxExhaustive: opts.maxExhaustive,
    evalLimit: opts.evalLimit,
  };
}

/** Writes DIR/sglp-report.json then DIR/report.html, and prints the report (--json) or the summary. */
export async function writeReport(
  out: string,
  report: Report,
  io: CliIo,
  json: boolean | undefined,
  summary: (r: Report) => string,
): Promise<void> {
  await writeReportFiles(out, report);
  printReport(report, io, json, summary);
}

/** Writes DIR/sglp-report.json then DIR/report.html. */
export async function writeReportFiles(out: string, report: Report): Promise<void> {
  await writeFileAtomic(pathIn(out, REPORT_FILE), `${JSON.stringify(report, null, 2)}\n`);
  await writeFileAtomic(pathIn(out, REPORT_HTML), renderReportHtml(report));
}

/** Prints the report (--json) or the summary on stdout. */
export function printReport(
  report: Report,
  io: CliIo,
  json: boolean | undefined,
  summary: (r: Report) => string,
): void {
  if (json) io.stdout(`${JSON.stringify(report)}\n`);
  else io.stdout(summary(report));
}
