// The summary `sglp prune` prints for either family (prune-run.ts): what was removed, the segments, the
// metric before and after (accuracy, with batch-norm recalibration; or perplexity), fine-tuning, size,
// an LM's peak device memory, timings and notes, and where the files are.

import { pathIn } from '../node/files.js';
import { methodLabel } from '../report/labels.js';
import type { Report } from '../sglp/report/schema.js';
import { formatBytes } from './progress.js';
import { REPORT_FILE, REPORT_HTML } from './prune-common.js';

type Metrics = Report['metrics']['before'];

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The summary, given the files written besides config.json and model.safetensors (an LM's tokenizer). */
export function pruneSummary(r: Report, sideFiles: readonly string[]): string {
  const text = 'perplexity' in r.metrics.before;
  const name = (i: number) => r.units[i].name;
  const files = ['config.json', 'model.safetensors', ...sideFiles].join(', ');
  return [
    `${r.model.name} (${methodLabel(r)}): removed ${r.removed.length} of ${r.units.length} ${text ? 'decoder layers' : 'units'} (${r.removed.map(name).join(', ')})`,
    segmentsLine(r),
    ...(text ? perplexityLines(r) : accuracyLines(r)),
    ...timingAndNotesLines(r),
    `pruned model: ${r.model.output} (${text ? `Hugging Face: ${files}` : files}); report: ${pathIn(r.model.output, REPORT_FILE)}, ${pathIn(r.model.output, REPORT_HTML)}`,
    '',
  ].join('\n');
}

function accuracyLines(r: Report): string[] {
  const pct = (m: Metrics) => ('accuracy' in m ? `${(100 * m.accuracy).toFixed(2)}%` : '');
  return [
    `accuracy ${pct(r.metrics.before)} → ${pct(r.metrics.after)} as pruned` +
      (r.metrics.recalibrated
        ? ` → ${pct(r.metrics.recalibrated)} after batch-norm recalibration on ${r.protocol.recalibration?.samples} train images`
        : '') +
      ` (${'samples' in r.metrics.after ? r.metrics.after.samples : ''} test samples, no fine-tuning)`,
    ...(r.metrics.afterFinetune
      ? [
          `after fine-tuning for ${r.protocol.finetune?.epochs} epoch(s): accuracy ${pct(r.metrics.afterFinetune)} ` +
            `(fine-tuning ${seconds(r.timings.finetuneMs)})`,
        ]
      : []),
    `params ${r.size.paramsBefore} → ${r.size.paramsAfter}, MACs ${r.size.macsBefore} → ${r.size.macsAfter}`,
  ];
}

function perplexityLines(r: Report): string[] {
  const ppl = (m: Metrics) => ('perplexity' in m ? m.perplexity.toFixed(3) : '');
  const m = r.metrics.after;
  const memory = r.device.memory;
  return [
    `perplexity ${ppl(r.metrics.before)} → ${ppl(m)} (${'tokens' in m ? m.tokens : ''} test tokens, no fine-tuning)`,
    ...(r.metrics.afterFinetune
      ? [
          `after fine-tuning for ${r.protocol.finetune?.epochs} epoch(s) (AdamW): perplexity ` +
            `${ppl(r.metrics.afterFinetune)} (fine-tuning ${seconds(r.timings.finetuneMs)})`,
        ]
      : []),
    `params ${r.size.paramsBefore} → ${r.size.paramsAfter}, MACs/token ${r.size.macsBefore} → ${r.size.macsAfter}`,
    ...(memory
      ? [
          `peak device memory ${formatBytes(memory.peakDeviceBytes)}` +
            (memory.streamed ? ' (layer streaming)' : '') +
            (memory.memoryCap !== null ? `, cap ${formatBytes(memory.memoryCap)}` : ''),
        ]
      : []),
  ];
}

/** The segments line every prune prints. */
export function segmentsLine(r: Report): string {
  return `segments (${r.segmentation.kRule} K = ${r.segmentation.k}): ${r.segmentation.segments
    .map(([a, b]) => `[${a}, ${b})`)
    .join(' ')}`;
}

/** After the metrics: the stages' times, then the report's notes. */
export function timingAndNotesLines(r: Report): string[] {
  const t = r.timings;
  const s = seconds;
  return [
    `time: features ${s(t.featuresMs)}, CKA ${s(t.ckaMs)}, segmentation ${s(t.segmentMs)}, ` +
      `${r.protocol.importance ? `${r.protocol.importance.score} ${r.protocol.importance.score === 'similarity' ? 'ranking' : 'search'}` : 'selection'} ${s(t.importanceMs)}, ` +
      `eval ${s(t.evalMs)}${t.recalibrateMs !== undefined ? `, batch-norm recalibration ${s(t.recalibrateMs)}` : ''}, total ${s(t.totalMs)}`,
    ...r.notes.map((n) => `note: ${n}`),
  ];
}
