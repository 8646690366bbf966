// The row-sum curve that Fisher's partition splits: one point per unit, segments shaded with their mean
// drawn as a dashed line (the partition minimises the squared distance of the points to these lines),
// removed units crossed out.

import type { Report } from '../sglp/report/schema.js';
import { axisTitle, fitLabel, textWidth, unitAxis, valueAxis } from './axes.js';
import { REMOVED_COLOR, segmentColor } from './color.js';
import { h, type Markup } from './markup.js';
import { linear, padded } from './scale.js';
import { type UnitView, unitViews } from './units.js';

const WIDTH = 760;
const PLOT_HEIGHT = 220;
const LEFT = 58;
const RIGHT = 12;
const TOP = 26;

export function renderRowSums(report: Report): Markup {
  const views = unitViews(report);
  const n = views.length;
  const sums = report.segmentation.rowSums;
  const step = (WIDTH - LEFT - RIGHT) / n;
  const font = Math.max(7, Math.min(11, Math.floor(step * 0.85)));
  const every = Math.max(1, Math.ceil(n / 80));
  const labels = Math.ceil(Math.max(...views.map((v) => textWidth(v.label, font)))) + 8;
  const height = TOP + PLOT_HEIGHT + 8 + labels;
  const x = (i: number) => LEFT + (i + 0.5) * step;
  const y = linear(padded(sums, 0.1), [TOP + PLOT_HEIGHT, TOP]);
  const title = 'Row sums of the CKA matrix per unit, with the segments and their means';
  return h(
    'svg',
    {
      class: 'chart row-sums',
      viewBox: `0 0 ${WIDTH} ${height}`,
      width: WIDTH,
      height,
      role: 'img',
      'aria-label': title,
    },
    h('title', {}, title),
    segments(report, views, step, y),
    valueAxis(y, LEFT, WIDTH - RIGHT, 5),
    axisTitle('row sum', 14, TOP + PLOT_HEIGHT / 2, true),
    h('polyline', { class: 'curve', points: sums.map((s, i) => `${r1(x(i))},${r1(y(s))}`).join(' ') }),
    views.map((v) => point(v, x(v.index), y(sums[v.index]), sums[v.index], Math.min(4.5, step * 0.3))),
    unitAxis(views, x, TOP + PLOT_HEIGHT + 8, font, every),
  );
}

function r1(v: number): number {
  return Math.round(v * 10) / 10;
}

function segments(
  report: Report,
  views: readonly UnitView[],
  step: number,
  y: (v: number) => number,
): Markup {
  const sums = report.segmentation.rowSums;
  return h(
    'g',
    { class: 'segments' },
    report.segmentation.segments.map(([start, end], s) => {
      const x0 = LEFT + start * step;
      const w = (end - start) * step;
      const mean = sums.slice(start, end).reduce((a, b) => a + b, 0) / (end - start);
      const kept = views.slice(start, end).filter((v) => !v.removed).length;
      const color = segmentColor(s);
      return h(
        'g',
        {},
        h(
          'title',
          {},
          `Segment ${s + 1}: units ${start}–${end - 1}, mean row sum ${mean.toFixed(3)}, keeps ${kept} of ${end - start}`,
        ),
        h('rect', {
          x: x0,
          y: TOP,
          width: w,
          height: PLOT_HEIGHT,
          fill: color,
          'fill-opacity': s % 2 === 0 ? 0.1 : 0.18,
        }),
        h('line', {
          x1: x0 + 2,
          x2: x0 + w - 2,
          y1: y(mean),
          y2: y(mean),
          stroke: color,
          class: 'segment-mean',
        }),
        h(
          'text',
          { x: x0 + w / 2, y: TOP - 9, class: 'segment-label', fill: color },
          fitLabel([`S${s + 1} · ${kept}/${end - start}`, `S${s + 1}`], w, 11),
        ),
      );
    }),
  );
}

function point(v: UnitView, cx: number, cy: number, value: number, r: number): Markup {
  const state = v.removed ? 'removed' : v.protected ? 'kept (protected)' : 'kept';
  const tip = h(
    'title',
    {},
    `unit ${v.index}: ${v.name}\nrow sum ${value.toFixed(4)}\nsegment ${v.segment + 1}, ${state}`,
  );
  if (v.removed) {
    const d = r;
    return h(
      'g',
      { class: 'point removed' },
      tip,
      h('circle', { cx, cy, r: r + 2, fill: '#fff', 'fill-opacity': 0.8 }),
      h('path', {
        d: `M${r1(cx - d)} ${r1(cy - d)}L${r1(cx + d)} ${r1(cy + d)}M${r1(cx + d)} ${r1(cy - d)}L${r1(cx - d)} ${r1(cy + d)}`,
        stroke: REMOVED_COLOR,
        'stroke-width': 2,
      }),
    );
  }
  return h(
    'g',
    { class: v.protected ? 'point protected' : 'point kept' },
    tip,
    h('circle', { cx, cy, r, fill: segmentColor(v.segment) }),
  );
}
