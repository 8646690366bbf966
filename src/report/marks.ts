// The mark of one unit, shared by the unit strip, the heatmap axes and the legend: a square in its
// segment's colour when kept (with a white dot when protected), hatched and crossed in red when removed.

import { REMOVED_COLOR, segmentColor } from './color.js';
import { HATCH_REMOVED } from './defs.js';
import { h, type Markup } from './markup.js';
import type { UnitView } from './units.js';

/** A unit's marker: kept (segment colour), protected (with a dark ring) or removed (hatched, crossed). */
export function unitMarker(v: UnitView, cx: number, cy: number, size: number): Markup {
  const x = cx - size / 2;
  const y = cy - size / 2;
  if (v.removed) {
    const d = size / 2 - 1;
    return h(
      'g',
      { class: 'marker removed' },
      h('rect', { x, y, width: size, height: size, fill: HATCH_REMOVED, stroke: REMOVED_COLOR }),
      h('path', {
        d: `M${cx - d} ${cy - d}L${cx + d} ${cy + d}M${cx + d} ${cy - d}L${cx - d} ${cy + d}`,
        stroke: REMOVED_COLOR,
        'stroke-width': 1.5,
      }),
    );
  }
  const square = h('rect', { x, y, width: size, height: size, fill: segmentColor(v.segment) });
  if (!v.protected) return h('g', { class: 'marker kept' }, square);
  return h(
    'g',
    { class: 'marker protected' },
    square,
    h('circle', { cx, cy, r: Math.max(1.2, size / 5), fill: '#fff' }),
  );
}
