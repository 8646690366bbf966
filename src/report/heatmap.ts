// The CKA heatmap: one cell per pair of units in viridis, unit names on both axes, each segment boxed on
// the diagonal with a coloured band above it, and a marker per unit (kept, protected, removed) beside the
// labels. Every cell carries a <title>, so hovering shows the exact value without any script; the page's
// script only adds a crosshair and a readout line.

import type { Report } from '../sglp/report/schema.js';
import { textWidth } from './axes.js';
import { segmentColor, textOn, viridis } from './color.js';
import { CKA_GRADIENT } from './defs.js';
import { unitMarker } from './marks.js';
import { type Child, h, type Markup } from './markup.js';
import { linear, tickDecimals, ticks } from './scale.js';
import { type UnitView, unitViews } from './units.js';

export interface HeatmapLayout {
  readonly cell: number;
  readonly font: number;
  readonly labelWidth: number;
  readonly x0: number;
  readonly y0: number;
  readonly width: number;
  readonly height: number;
  /** Label every n-th unit (1 unless there are too many to read). */
  readonly labelEvery: number;
  /** The colour scale's domain. */
  readonly lo: number;
  readonly hi: number;
}

const BAND = 16;
const GAP = 4;
const LEGEND_GAP = 26;
const LEGEND_BAR = 14;
const LEGEND_TEXT = 46;

export function heatmapLayout(report: Report): HeatmapLayout {
  const n = report.units.length;
  const cell = Math.max(6, Math.min(36, Math.floor(600 / n)));
  const font = Math.max(7, Math.min(12, Math.round(cell * 0.8)));
  const labelEvery = Math.max(1, Math.ceil(n / 80));
  const longest = Math.max(...unitViews(report).map((v) => textWidth(v.label, font)));
  const labelWidth = Math.ceil(longest) + 8;
  const marker = markerSize(cell);
  const x0 = labelWidth + GAP + marker + GAP;
  const y0 = BAND + GAP + 2;
  const side = n * cell;
  const width = x0 + side + LEGEND_GAP + LEGEND_BAR + LEGEND_TEXT;
  const height = y0 + side + GAP + marker + GAP + labelWidth;
  let lo = 1;
  let hi = 1;
  report.cka.matrix.forEach((row, i) => {
    row.forEach((v, j) => {
      if (i === j) return;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    });
  });
  // Round the low end down to a tenth: the scale then starts at a value the legend can name.
  lo = Math.min(Math.floor(lo * 10) / 10, 0.9);
  return { cell, font, labelWidth, x0, y0, width, height, labelEvery, lo, hi };
}

function markerSize(cell: number): number {
  return Math.max(6, Math.min(12, Math.round(cell * 0.6)));
}

export function renderHeatmap(report: Report): Markup {
  const layout = heatmapLayout(report);
  const views = unitViews(report);
  const { cell, x0, y0, width, height } = layout;
  const n = views.length;
  const title = `CKA similarity between the ${n} units, with the ${report.segmentation.k} segments boxed`;
  return h(
    'svg',
    {
      id: 'cka-heatmap',
      class: 'chart heatmap',
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: 'img',
      'aria-label': title,
    },
    h('title', {}, title),
    h('desc', {}, `Colour scale: viridis from CKA ${layout.lo} (dark) to ${layout.hi} (light)`),
    segmentBand(report, views, layout),
    cells(report, views, layout),
    segmentBoxes(report, layout),
    h('rect', {
      id: 'cka-row',
      class: 'crosshair',
      x: x0,
      y: y0,
      width: n * cell,
      height: cell,
      visibility: 'hidden',
    }),
    h('rect', {
      id: 'cka-col',
      class: 'crosshair',
      x: x0,
      y: y0,
      width: cell,
      height: n * cell,
      visibility: 'hidden',
    }),
    rowLabels(views, layout),
    columnLabels(views, layout),
    legend(layout, n),
  );
}

function segmentBand(report: Report, views: readonly UnitView[], layout: HeatmapLayout): Markup {
  const { cell, x0 } = layout;
  return h(
    'g',
    { class: 'segment-band' },
    report.segmentation.segments.map(([start, end], s) => {
      const kept = views.slice(start, end).filter((v) => !v.removed).length;
      const w = (end - start) * cell;
      const label = `S${s + 1}`;
      const tip = `Segment ${s + 1}: units ${start}–${end - 1} (${views[start].name} … ${views[end - 1].name}), keeps ${kept} of ${end - start}`;
      return h(
        'g',
        {},
        h('title', {}, tip),
        h('rect', {
          x: x0 + start * cell + 0.5,
          y: 0,
          width: w - 1,
          height: BAND,
          rx: 3,
          fill: segmentColor(s),
        }),
        textWidth(label, 10) + 4 <= w &&
          h(
            'text',
            { x: x0 + start * cell + w / 2, y: BAND / 2, class: 'band-label', fill: textOn(segmentColor(s)) },
            label,
          ),
      );
    }),
  );
}

function cells(report: Report, views: readonly UnitView[], layout: HeatmapLayout): Markup {
  const { cell, x0, y0, lo, hi } = layout;
  const t = linear([lo, hi], [0, 1]);
  const n = views.length;
  const showValues = cell >= 30;
  const out: Child[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = report.cka.matrix[i][j];
      const fill = viridis(t(v));
      const tip = `${views[i].name} × ${views[j].name}\nCKA ${fmtCka(v)}`;
      const x = x0 + j * cell;
      const y = y0 + i * cell;
      out.push(h('rect', { x, y, width: cell, height: cell, fill }, h('title', {}, tip)));
      if (showValues) {
        out.push(
          h(
            'text',
            { x: x + cell / 2, y: y + cell / 2, class: 'cell-value', fill: textOn(fill) },
            v.toFixed(2),
          ),
        );
      }
    }
  }
  return h('g', { class: 'cells', 'shape-rendering': 'crispEdges' }, out);
}

/** Enough digits to be exact for the eye, without float noise: 0.873145. */
export function fmtCka(v: number): string {
  return Number(v.toPrecision(6)).toString();
}

function segmentBoxes(report: Report, layout: HeatmapLayout): Markup {
  const { cell, x0, y0 } = layout;
  return h(
    'g',
    { class: 'segment-boxes', 'aria-hidden': 'true' },
    report.segmentation.segments.map(([start, end]) => {
      const box = {
        x: x0 + start * cell,
        y: y0 + start * cell,
        width: (end - start) * cell,
        height: (end - start) * cell,
      };
      // A dark rim under a white line stays visible on both ends of viridis.
      return [h('rect', { ...box, class: 'segment-box-rim' }), h('rect', { ...box, class: 'segment-box' })];
    }),
  );
}

function unitTip(v: UnitView): string {
  const state = v.removed
    ? 'removed'
    : v.protected
      ? `kept, protected (${v.protectedReason ?? 'shape'})`
      : 'kept';
  return `unit ${v.index}: ${v.name}\nsegment ${v.segment + 1}, ${state}`;
}

function labelClass(v: UnitView): string {
  return v.removed ? 'unit-label removed' : v.protected ? 'unit-label protected' : 'unit-label';
}

function rowLabels(views: readonly UnitView[], layout: HeatmapLayout): Markup {
  const { cell, y0, labelWidth, font, labelEvery } = layout;
  const marker = markerSize(cell);
  const mx = labelWidth + GAP + marker / 2;
  return h(
    'g',
    { class: 'row-labels', 'font-size': font },
    views.map((v) => {
      const cy = y0 + (v.index + 0.5) * cell;
      return h(
        'g',
        {},
        h('title', {}, unitTip(v)),
        unitMarker(v, mx, cy, marker),
        v.index % labelEvery === 0 &&
          h('text', { x: labelWidth, y: cy, class: `${labelClass(v)} end` }, v.label),
      );
    }),
  );
}

function columnLabels(views: readonly UnitView[], layout: HeatmapLayout): Markup {
  const { cell, x0, y0, font, labelEvery } = layout;
  const n = views.length;
  const marker = markerSize(cell);
  const my = y0 + n * cell + GAP + marker / 2;
  const ty = y0 + n * cell + GAP + marker + GAP;
  return h(
    'g',
    { class: 'column-labels', 'font-size': font },
    views.map((v) => {
      const cx = x0 + (v.index + 0.5) * cell;
      return h(
        'g',
        {},
        h('title', {}, unitTip(v)),
        unitMarker(v, cx, my, marker),
        v.index % labelEvery === 0 &&
          h(
            'text',
            { transform: `translate(${cx} ${ty}) rotate(-90)`, class: `${labelClass(v)} end` },
            v.label,
          ),
      );
    }),
  );
}

function legend(layout: HeatmapLayout, n: number): Markup {
  const { x0, y0, cell, lo, hi } = layout;
  const x = x0 + n * cell + LEGEND_GAP;
  const height = n * cell;
  const y = linear([lo, hi], [y0 + height, y0]);
  const values = ticks(lo, hi, Math.max(2, Math.min(6, Math.floor(height / 40))));
  const decimals = Math.max(1, tickDecimals(values));
  return h(
    'g',
    { class: 'legend' },
    h('text', { x: x + LEGEND_BAR / 2, y: y0 - 6, class: 'legend-title' }, 'CKA'),
    h('rect', {
      x,
      y: y0,
      width: LEGEND_BAR,
      height,
      fill: CKA_GRADIENT,
      stroke: '#888',
      'stroke-width': 0.5,
    }),
    values.map((v) =>
      h(
        'g',
        {},
        h('line', { x1: x + LEGEND_BAR, x2: x + LEGEND_BAR + 4, y1: y(v), y2: y(v), stroke: '#555' }),
        h('text', { x: x + LEGEND_BAR + 7, y: y(v), class: 'tick start' }, v.toFixed(decimals)),
      ),
    ),
  );
}
