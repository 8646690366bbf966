// The top of the page: what was pruned, how, on what, and the headline numbers (metric, parameters, MACs,
// time), then a strip of all units coloured by segment with the removed ones crossed out.

import type { Report } from '../sglp/report/schema.js';
import { fitLabel } from './axes.js';
import { REMOVED_COLOR, segmentColor } from './color.js';
import { HATCH_REMOVED } from './defs.js';
import { fmtChange, fmtCount, fmtInt, fmtMetric, fmtMetricChange, fmtMs, metricName } from './format.js';
import { deviceLabel, methodLabel } from './labels.js';
import { unitMarker } from './marks.js';
import { type Child, h, type Markup } from './markup.js';
import { unitViews } from './units.js';

export function renderHeader(report: Report): Markup {
  const { model, protocol, segmentation } = report;
  const n = report.units.length;
  const facts: [string, Child][] = [
    ['Method', methodLabel(report)],
    ['Segments', `K = ${segmentation.k} (${segmentation.kRule === 'elbow' ? 'elbow rule' : '--segments'})`],
    ['Removed', `${report.removed.length} of ${n} units`],
    ...(report.reinitialised
      ? ([['Re-initialised', report.reinitialised.map((x) => x.name).join(', ')]] as [string, Child][])
      : []),
    ['Data', protocol.data.spec],
    ['Device', deviceLabel(report.device)],
  ];
  return h(
    'header',
    { class: 'top' },
    h('p', { class: 'eyebrow' }, 'SGLP layer-pruning report'),
    h('h1', {}, model.name, ' ', h('span', { class: 'arch' }, model.architecture)),
    h(
      'p',
      { class: 'paths' },
      h('code', {}, model.input),
      h('span', { class: 'arrow' }, ' → '),
      h('code', {}, model.output),
    ),
    h(
      'dl',
      { class: 'facts' },
      facts.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))),
    ),
    protocol.preset === 'reduced' &&
      h(
        'p',
        { class: 'callout' },
        h('strong', {}, 'Reduced protocol. '),
        'This run used fewer samples than the default protocol of docs/method.md (see Protocol below); its numbers are a demonstration, not a reference.',
      ),
    report.notes.length > 0 &&
      h(
        'div',
        { class: 'callout' },
        h('strong', {}, 'Notes'),
        h(
          'ul',
          {},
          report.notes.map((note) => h('li', {}, note)),
        ),
      ),
    kpis(report),
  );
}

function kpis(report: Report): Markup {
  const { before, after, recalibrated, afterFinetune } = report.metrics;
  const name = metricName(before);
  const epochs = report.protocol.finetune?.epochs ?? 0;
  const split = report.protocol.eval.split;
  const { size, timings } = report;
  const metricValue: Child[] = [
    h('span', { class: 'before' }, fmtMetric(before)),
    h('span', { class: 'arrow' }, '→'),
    h('span', { class: 'after' }, fmtMetric(after)),
  ];
  if (recalibrated)
    metricValue.push(
      h('span', { class: 'arrow' }, '→'),
      h('span', { class: 'recalibrated' }, fmtMetric(recalibrated)),
    );
  if (afterFinetune)
    metricValue.push(
      h('span', { class: 'arrow' }, '→'),
      h('span', { class: 'tuned' }, fmtMetric(afterFinetune)),
    );
  const metricSub = [`${fmtMetricChange(before, after)} as pruned`];
  if (recalibrated) {
    metricSub.push(
      `${fmtMetricChange(before, recalibrated)} after batch-norm recalibration on ${report.protocol.recalibration?.samples} train images`,
    );
  }
  if (afterFinetune) {
    metricSub.push(
      `${fmtMetricChange(before, afterFinetune)} after ${epochs} fine-tuning epoch${epochs === 1 ? '' : 's'}`,
    );
  }
  return h(
    'section',
    { class: 'kpis', 'aria-label': 'Headline numbers' },
    kpi(
      `${name === 'accuracy' ? 'Accuracy' : 'Perplexity'} (${split} split)`,
      metricValue,
      metricSub.join(' · '),
    ),
    kpi(
      'Parameters',
      [
        h('span', { class: 'before' }, fmtCount(size.paramsBefore)),
        h('span', { class: 'arrow' }, '→'),
        h('span', { class: 'after' }, fmtCount(size.paramsAfter)),
      ],
      `${fmtChange(size.paramsBefore, size.paramsAfter)} · ${fmtInt(size.paramsAfter)} left`,
    ),
    kpi(
      name === 'accuracy' ? 'MACs per sample' : 'MACs per token',
      [
        h('span', { class: 'before' }, fmtCount(size.macsBefore)),
        h('span', { class: 'arrow' }, '→'),
        h('span', { class: 'after' }, fmtCount(size.macsAfter)),
      ],
      `${fmtChange(size.macsBefore, size.macsAfter)}`,
    ),
    kpi(
      'Total time',
      [h('span', { class: 'after' }, fmtMs(timings.totalMs))],
      `${fmtInt(report.passes.forward)} forward · ${fmtInt(report.passes.backward)} backward passes`,
    ),
  );
}

function kpi(label: string, value: Child, sub: string): Markup {
  return h(
    'div',
    { class: 'kpi' },
    h('div', { class: 'kpi-label' }, label),
    h('div', { class: 'kpi-value' }, value),
    h('div', { class: 'kpi-sub' }, sub),
  );
}

/** All units in a row, coloured by segment, removed ones hatched and crossed, with the segments below. */
export function renderUnitStrip(report: Report): Markup {
  const views = unitViews(report);
  const n = views.length;
  const pitch = Math.max(9, Math.min(32, Math.floor(1040 / n)));
  const size = pitch - 3;
  const width = n * pitch;
  const height = size + 26;
  const label = `${n} units: ${report.kept.length} kept, ${report.removed.length} removed`;
  return h(
    'svg',
    {
      class: 'chart unit-strip',
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: 'img',
      'aria-label': label,
    },
    h('title', {}, label),
    views.map((v) =>
      h(
        'g',
        {},
        h(
          'title',
          {},
          `unit ${v.index}: ${v.name}\nsegment ${v.segment + 1}, ${v.removed ? 'removed' : v.protected ? 'kept, protected' : 'kept'}`,
        ),
        unitMarker(v, v.index * pitch + pitch / 2, size / 2 + 1, size),
      ),
    ),
    report.segmentation.segments.map(([start, end], s) => {
      const x0 = start * pitch + 1;
      const x1 = end * pitch - 2;
      const y = size + 6;
      const kept = views.slice(start, end).filter((v) => !v.removed).length;
      const text = fitLabel(
        [`S${s + 1} · keeps ${kept}/${end - start}`, `S${s + 1} · ${kept}/${end - start}`, `S${s + 1}`],
        x1 - x0,
        11,
      );
      return h(
        'g',
        { class: 'bracket' },
        h('path', {
          d: `M${x0} ${y - 3}V${y}H${x1}V${y - 3}`,
          stroke: segmentColor(s),
          fill: 'none',
          'stroke-width': 1.5,
        }),
        text &&
          h('text', { x: (x0 + x1) / 2, y: y + 12, class: 'segment-label', fill: segmentColor(s) }, text),
      );
    }),
  );
}

/** The legend of unit markers used by the strip and the heatmap, as inline SVG swatches. */
export function markerLegend(): Markup {
  const swatch = (inner: Markup) =>
    h('svg', { class: 'swatch', viewBox: '0 0 14 14', width: 14, height: 14, 'aria-hidden': 'true' }, inner);
  return h(
    'ul',
    { class: 'legend-list' },
    h(
      'li',
      {},
      swatch(h('rect', { x: 1, y: 1, width: 12, height: 12, fill: segmentColor(0) })),
      'kept (colour = segment)',
    ),
    h(
      'li',
      {},
      swatch(
        h(
          'g',
          {},
          h('rect', { x: 1, y: 1, width: 12, height: 12, fill: segmentColor(0) }),
          h('circle', { cx: 7, cy: 7, r: 2, fill: '#fff' }),
        ),
      ),
      'protected (always kept; bold label)',
    ),
    h(
      'li',
      {},
      swatch(
        h(
          'g',
          {},
          h('rect', { x: 1, y: 1, width: 12, height: 12, fill: HATCH_REMOVED, stroke: REMOVED_COLOR }),
          h('path', { d: 'M3 3L11 11M11 3L3 11', stroke: REMOVED_COLOR, 'stroke-width': 1.5 }),
        ),
      ),
      'removed (struck-through label)',
    ),
  );
}
