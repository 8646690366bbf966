// The elbow curve: Fisher's loss Loss[L, k] for each number of segments k, the relative cut of every step
// (the elbow rule counts steps that cut more than the threshold), and the K that was used.

import type { Report } from '../sglp/report/schema.js';
import { axisTitle, valueAxis } from './axes.js';
import { MINUS, sig } from './format.js';
import { h, type Markup } from './markup.js';
import { linear } from './scale.js';

const WIDTH = 380;
const HEIGHT = 300;
const LEFT = 58;
const RIGHT = 16;
const TOP = 20;
const BOTTOM = 44;

export function renderElbow(report: Report): Markup {
  const { lossByK, k: chosen, kRule } = report.segmentation;
  const threshold = report.protocol.segmentation.elbowThreshold;
  const kMax = lossByK.length;
  const x = linear([0.5, kMax + 0.5], [LEFT, WIDTH - RIGHT]);
  const y = linear([0, Math.max(...lossByK) * 1.1 || 1], [HEIGHT - BOTTOM, TOP]);
  const title = `Fisher segmentation loss by number of segments; K = ${chosen} (${kRule === 'elbow' ? 'elbow rule' : '--segments'})`;
  const points = lossByK.map((loss, i) => ({ k: i + 1, loss }));
  return h(
    'svg',
    {
      class: 'chart elbow',
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      width: WIDTH,
      height: HEIGHT,
      role: 'img',
      'aria-label': title,
    },
    h('title', {}, title),
    valueAxis(y, LEFT, WIDTH - RIGHT, 5),
    h('line', { x1: x(chosen), x2: x(chosen), y1: TOP, y2: HEIGHT - BOTTOM, class: 'chosen-k' }),
    points.map((p) =>
      h('text', { x: x(p.k), y: HEIGHT - BOTTOM + 16, class: `tick${p.k === chosen ? ' strong' : ''}` }, p.k),
    ),
    axisTitle('segments k', (LEFT + WIDTH - RIGHT) / 2, HEIGHT - 8),
    axisTitle('loss', 14, (TOP + HEIGHT - BOTTOM) / 2, true),
    h('polyline', { class: 'curve', points: points.map((p) => `${x(p.k)},${y(p.loss)}`).join(' ') }),
    points.slice(1).map((p, i) => {
      const prev = points[i].loss;
      const cut = prev === 0 ? 0 : (prev - p.loss) / prev;
      // Up and to the right of the step's midpoint: the falling line passes up and to the left of it.
      const mx = (x(p.k) + x(points[i].k)) / 2 + 3;
      const my = (y(p.loss) + y(prev)) / 2 - 9;
      return h(
        'text',
        { x: mx, y: my, class: cut > threshold ? 'cut counts start' : 'cut start' },
        h('title', {}, `k ${p.k - 1} → ${p.k}: the loss falls by ${(cut * 100).toFixed(2)}%`),
        `${MINUS}${Math.round(cut * 100)}%`,
      );
    }),
    points.map((p) =>
      h(
        'circle',
        {
          cx: x(p.k),
          cy: y(p.loss),
          r: p.k === chosen ? 7 : 4,
          class: p.k === chosen ? 'chosen' : 'loss-point',
        },
        h('title', {}, `k = ${p.k}: loss ${sig(p.loss, 6)}`),
      ),
    ),
    h(
      'text',
      {
        // At the top of the K line, clear of the points and the step labels.
        x: x(chosen) + (chosen === kMax ? -6 : 6),
        y: TOP + 6,
        class: `chosen-label ${chosen === kMax ? 'end' : 'start'}`,
      },
      `K = ${chosen}`,
    ),
  );
}
