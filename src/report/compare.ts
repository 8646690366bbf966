// The comparison of pruning methods on the same model, data and budget (issue 4, item 7): one row per
// method with its metric and loss (NLL for language models) without fine-tuning, parameters, MACs and time, as aligned plain text for the
// terminal and as a markdown table for bench/RESULTS.md. ASCII only (a '-' for minus), so that both paste
// anywhere.

import { type EvalMetrics, isClassification, type Report } from '../sglp/report/schema.js';
import { fmtChange, fmtCount, fmtMetric, fmtMs, metricName } from './format.js';
import { methodLabel } from './labels.js';

export interface CompareRow {
  /** `SGLP (select min)`, `random`, `unpruned`. */
  readonly method: string;
  /** Evaluated without fine-tuning. */
  readonly metric: EvalMetrics;
  /** After batch-norm recalibration, when the run recalibrated. */
  readonly recalibrated?: EvalMetrics;
  /** After fine-tuning, when the run fine-tuned. */
  readonly finetuned?: EvalMetrics;
  readonly params: number;
  readonly macs: number;
  /** The unpruned model's, to show the relative change; absent: no change column entry. */
  readonly paramsBefore?: number;
  readonly macsBefore?: number;
  /** Time to choose the units (calibration, CKA, segmentation, scoring); null where nothing ran. */
  readonly timeMs: number | null;
}

export interface CompareTable {
  readonly text: string;
  readonly markdown: string;
}

/** A run's row: its method, metrics after pruning, size, and the time spent choosing what to prune. */
export function compareRow(report: Report): CompareRow {
  const t = report.timings;
  return {
    method: methodLabel(report),
    metric: report.metrics.after,
    recalibrated: report.metrics.recalibrated,
    finetuned: report.metrics.afterFinetune,
    params: report.size.paramsAfter,
    macs: report.size.macsAfter,
    paramsBefore: report.size.paramsBefore,
    macsBefore: report.size.macsBefore,
    // The stages of the choice, as timed (a calibration shared between runs counts for each of them).
    timeMs: t.featuresMs + t.ckaMs + t.segmentMs + t.importanceMs,
  };
}

/** The unpruned model's row, from any report of it. */
export function unprunedRow(report: Report): CompareRow {
  return {
    method: 'unpruned',
    metric: report.metrics.before,
    params: report.size.paramsBefore,
    macs: report.size.macsBefore,
    timeMs: null,
  };
}

/** Rows for several runs on one model: the unpruned model first, then each run in the order given. */
export function compareRows(reports: readonly Report[]): CompareRow[] {
  if (reports.length === 0) return [];
  return [unprunedRow(reports[0]), ...reports.map(compareRow)];
}

const MINUS = '-';

function sizeCell(after: number, before: number | undefined): string {
  return before === undefined ? fmtCount(after) : `${fmtCount(after)} (${fmtChange(before, after, MINUS)})`;
}

/** The table's cells, header first; throws if the rows mix accuracy and perplexity. */
function cells(rows: readonly CompareRow[]): { header: string[]; body: string[][] } {
  const kinds = new Set(rows.map((r) => metricName(r.metric)));
  if (kinds.size > 1) {
    throw new Error('compareTable: rows mix accuracy and perplexity; compare runs of one kind of model');
  }
  const metric = rows.length > 0 ? metricName(rows[0].metric) : 'accuracy';
  const tuned = rows.some((r) => r.finetuned !== undefined);
  const recal = rows.some((r) => r.recalibrated !== undefined);
  const lossName = metric === 'accuracy' ? 'loss' : 'NLL';
  const header = [
    'method',
    metric,
    lossName,
    ...(recal ? [`${metric} recalibrated`] : []),
    ...(tuned ? [`${metric} fine-tuned`] : []),
    'params',
    'MACs',
    'time',
  ];
  const body = rows.map((r) => [
    r.method,
    fmtMetric(r.metric),
    (isClassification(r.metric) ? r.metric.loss : r.metric.nll).toFixed(4),
    ...(recal ? [r.recalibrated ? fmtMetric(r.recalibrated) : '-'] : []),
    ...(tuned ? [r.finetuned ? fmtMetric(r.finetuned) : '-'] : []),
    sizeCell(r.params, r.paramsBefore),
    sizeCell(r.macs, r.macsBefore),
    r.timeMs === null ? '-' : fmtMs(r.timeMs),
  ]);
  return { header, body };
}

/** The comparison as aligned text (method left-aligned, numbers right-aligned) and as markdown. */
export function compareTable(rows: readonly CompareRow[]): CompareTable {
  const { header, body } = cells(rows);
  const all = [header, ...body];
  const widths = header.map((_, c) => Math.max(...all.map((row) => row[c].length)));
  const align = (row: string[]) =>
    row
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const text = [align(header), rule, ...body.map(align)].join('\n');
  const md = (row: string[]) => `| ${row.map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`;
  const markdown = [
    md(header),
    `| ${header.map((_, c) => (c === 0 ? '---' : '---:')).join(' | ')} |`,
    ...body.map(md),
  ].join('\n');
  return { text: `${text}\n`, markdown: `${markdown}\n` };
}
