// The page's tables: stage timings with their share of the run, pass counts, and the whole protocol (every
// setting, so that a reader can repeat the run).

import type { Report } from '../sglp/report/schema.js';
import { fmtInt, fmtMs } from './format.js';
import { h, type Markup } from './markup.js';

const STAGES: [keyof Report['timings'], string][] = [
  ['featuresMs', 'Feature capture'],
  ['ckaMs', 'CKA'],
  ['segmentMs', 'Segmentation (Fisher DP)'],
  ['importanceMs', 'Selection inside the segments'],
  ['evalMs', 'Evaluation'],
  ['recalibrateMs', 'Batch-norm recalibration'],
  ['finetuneMs', 'Fine-tuning'],
];

export function renderTimings(report: Report): Markup {
  const t = report.timings;
  const total = t.totalMs;
  const rows = STAGES.filter(([key]) => t[key] !== undefined).map(
    ([key, label]) => [label, t[key] ?? 0] as const,
  );
  const other = total - rows.reduce((a, [, ms]) => a + ms, 0);
  // What no stage timer covers (loading, export, writing the report).
  if (other > 0.5) rows.push(['Other (load, export, write)', other]);
  return h(
    'table',
    { class: 'timings' },
    h('caption', {}, 'Stage timings'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Stage'),
        h('th', { scope: 'col', class: 'num' }, 'Time'),
        h('th', { scope: 'col' }, 'Share'),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map(([label, ms]) => {
        const share = total > 0 ? (ms / total) * 100 : 0;
        return h(
          'tr',
          {},
          h('th', { scope: 'row' }, label),
          h('td', { class: 'num' }, fmtMs(ms)),
          h(
            'td',
            { class: 'share' },
            h('span', { class: 'bar', style: `width:${share.toFixed(1)}%` }),
            h('span', { class: 'pct' }, `${share.toFixed(1)}%`),
          ),
        );
      }),
    ),
    h(
      'tfoot',
      {},
      h('tr', {}, h('th', { scope: 'row' }, 'Total'), h('td', { class: 'num' }, fmtMs(total)), h('td', {})),
    ),
  );
}

export function renderPasses(report: Report): Markup {
  const { forward, backward } = report.passes;
  return h(
    'table',
    { class: 'passes' },
    h('caption', {}, 'Network passes (whole network, one batch each)'),
    h(
      'tbody',
      {},
      h('tr', {}, h('th', { scope: 'row' }, 'Forward'), h('td', { class: 'num' }, fmtInt(forward))),
      h('tr', {}, h('th', { scope: 'row' }, 'Backward'), h('td', { class: 'num' }, fmtInt(backward))),
    ),
  );
}

/** Labels of the protocol's fields; a field without one is shown by its key alone. */
const LABELS: Record<string, string> = {
  preset: 'Protocol',
  method: 'Method',
  seed: 'Seed',
  'data.spec': 'Data',
  'data.seqLen': 'Window length (tokens)',
  'features.split': 'Calibration split',
  'features.samples': 'Calibration samples',
  'features.batchSize': 'Calibration batch size',
  'features.batches': 'Calibration batches',
  'features.shuffleSeed': 'Calibration order',
  estimator: 'CKA estimator',
  'segmentation.segments': 'Segments',
  'segmentation.maxSegments': 'Elbow rule: K max',
  'segmentation.elbowThreshold': 'Elbow rule: threshold',
  'target.remove': 'Units to remove',
  'target.keepPerSegment': 'Units to keep per segment',
  importance: 'Importance search',
  recalibration: 'Batch-norm recalibration',
  'recalibration.split': 'Recalibration split',
  'recalibration.samples': 'Recalibration images',
  'recalibration.batchSize': 'Recalibration batch size',
  'recalibration.batches': 'Recalibration batches',
  'recalibration.shuffleSeed': 'Recalibration order',
  'importance.score': 'Importance score',
  'importance.select': 'Select',
  'importance.samples.split': 'Score split',
  'importance.samples.samples': 'Score samples',
  'importance.samples.batchSize': 'Score batch size',
  'importance.samples.batches': 'Score batches',
  'importance.samples.shuffleSeed': 'Score order',
  'importance.maxExhaustive': 'Exhaustive search up to',
  'eval.split': 'Evaluation split',
  'eval.limit': 'Evaluation limit',
  finetune: 'Fine-tuning',
  'finetune.epochs': 'Fine-tuning epochs',
  'finetune.optimizer': 'Optimiser',
  'finetune.lr': 'Learning rate',
  'finetune.schedule': 'Schedule',
  'finetune.momentum': 'Momentum',
  'finetune.weightDecay': 'Weight decay',
  'finetune.batchSize': 'Fine-tuning batch size',
  'finetune.augment': 'Augmentation',
  'finetune.seed': 'Fine-tuning seed',
  'finetune.samples': 'Fine-tuning samples',
  'finetune.warmup': 'Warmup steps',
};

/** What null means, by the last part of the key. */
const NULL_MEANS: Record<string, string> = {
  seqLen: '— (images)',
  shuffleSeed: 'file order',
  segments: 'elbow rule',
  importance: 'none (the method does not search)',
  limit: 'whole split',
  finetune: 'none',
  momentum: '—',
  samples: 'whole split',
};

/** The protocol as [key, value] rows, nested objects flattened to dotted keys. */
export function protocolRows(protocol: Report['protocol']): [string, string][] {
  const rows: [string, string][] = [];
  const walk = (value: unknown, key: string) => {
    if (value === null) {
      rows.push([key, NULL_MEANS[key.split('.').pop() ?? key] ?? '—']);
    } else if (Array.isArray(value)) {
      rows.push([key, value.join(', ')]);
    } else if (typeof value === 'object') {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(v, key ? `${key}.${k}` : k);
    } else if (key.endsWith('shuffleSeed')) {
      rows.push([key, `shuffled, seed ${value}`]);
    } else {
      rows.push([key, String(value)]);
    }
  };
  walk(protocol, '');
  return rows;
}

/** Groups of the protocol table, by the first part of the key; top-level settings go to 'run'. */
const GROUPS: [string, string][] = [
  ['run', 'Run'],
  ['data', 'Data'],
  ['features', 'Calibration (unit outputs for CKA)'],
  ['segmentation', 'Segmentation'],
  ['target', 'Target'],
  ['importance', 'Importance search'],
  ['eval', 'Evaluation'],
  ['finetune', 'Fine-tuning'],
];

function groupOf(key: string): string {
  if (key === 'estimator') return 'features';
  const head = key.split('.')[0];
  return key.includes('.') || GROUPS.some(([g]) => g === head) ? head : 'run';
}

/** One small table per group, side by side where the page is wide; each row names its JSON key. */
export function renderProtocol(report: Report): Markup {
  const rows = protocolRows(report.protocol);
  return h(
    'div',
    { class: 'protocol-groups' },
    GROUPS.map(([group, title]) => {
      const mine = rows.filter(([key]) => groupOf(key) === group);
      if (mine.length === 0) return null;
      return h(
        'table',
        { class: 'protocol' },
        h('caption', {}, title, ' ', h('code', {}, group === 'run' ? 'protocol' : `protocol.${group}`)),
        h(
          'tbody',
          {},
          mine.map(([key, value]) =>
            h(
              'tr',
              { title: `protocol.${key}` },
              h('th', { scope: 'row' }, LABELS[key] ?? key),
              h('td', {}, value),
            ),
          ),
        ),
      );
    }),
  );
}
