// The per-unit scores of the Block Influence and angular-distance baselines: one bar per unit, removed
// units hatched red. Both scores measure how much a unit changes its input, so the lowest go first.

import type { Report } from '../sglp/report/schema.js';
import { axisTitle, textWidth, unitAxis, valueAxis } from './axes.js';
import { REMOVED_COLOR, segmentColor } from './color.js';
import { HATCH_REMOVED } from './defs.js';
import { h, type Markup } from './markup.js';
import { linear } from './scale.js';
import { unitViews } from './units.js';

const WIDTH = 760;
const PLOT_HEIGHT = 200;
const LEFT = 58;
const RIGHT = 12;
const TOP = 12;

export const SCORE_NAMES = {
  'block-influence': 'Block Influence (1 − cos between input and output)',
  angular: 'angular distance between input and output',
} as const;

export function renderUnitScores(report: Report): Markup | null {
  if (report.unitScores === undefined) return null;
  const { kind, scores } = report.unitScores;
  const views = unitViews(report);
  const n = views.length;
  const step = (WIDTH - LEFT - RIGHT) / n;
  const font = Math.max(7, Math.min(11, Math.floor(step * 0.85)));
  const labels = Math.ceil(Math.max(...views.map((v) => textWidth(v.label, font)))) + 8;
  const height = TOP + PLOT_HEIGHT + 8 + labels;
  const values = scores.filter((s): s is number => s !== null);
  const y = linear([Math.min(0, ...values), Math.max(...values, 0) * 1.08 || 1], [TOP + PLOT_HEIGHT, TOP]);
  const x = (i: number) => LEFT + (i + 0.5) * step;
  const title = `${SCORE_NAMES[kind]} per unit; removed units hatched`;
  return h(
    'svg',
    {
      class: 'chart unit-scores',
      viewBox: `0 0 ${WIDTH} ${height}`,
      width: WIDTH,
      height,
      role: 'img',
      'aria-label': title,
    },
    h('title', {}, title),
    valueAxis(y, LEFT, WIDTH - RIGHT, 5),
    axisTitle('score', 14, TOP + PLOT_HEIGHT / 2, true),
    views.map((v) => {
      const s = scores[v.index];
      const tip = h(
        'title',
        {},
        `unit ${v.index}: ${v.name}\n${s === null ? 'not scored' : `score ${s.toPrecision(6)}`}${v.removed ? '\nremoved' : ''}`,
      );
      if (s === null) return h('g', {}, tip, h('text', { x: x(v.index), y: y(0) - 8, class: 'tick' }, '–'));
      const top = Math.min(y(s), y(0));
      return h(
        'rect',
        {
          x: x(v.index) - step * 0.35,
          y: top,
          width: step * 0.7,
          height: Math.max(1, Math.abs(y(s) - y(0))),
          fill: v.removed ? HATCH_REMOVED : segmentColor(v.segment),
          stroke: v.removed ? REMOVED_COLOR : undefined,
        },
        tip,
      );
    }),
    unitAxis(views, x, TOP + PLOT_HEIGHT + 8, font, Math.max(1, Math.ceil(n / 80))),
  );
}
