// Gradients and patterns that several charts use, defined once in an invisible SVG at the top of the page
// (ids are document-wide, so every inline SVG can refer to them).

import { REMOVED_COLOR, viridis } from './color.js';
import { h, type Markup } from './markup.js';

export const HATCH_REMOVED = 'url(#hatch-removed)';
export const CKA_GRADIENT = 'url(#cka-gradient)';

export function sharedDefs(): Markup {
  const stops = Array.from({ length: 11 }, (_, i) =>
    h('stop', { offset: `${i * 10}%`, 'stop-color': viridis(1 - i / 10) }),
  );
  // Not display:none: Chromium does not paint patterns and gradients defined inside undisplayed SVGs.
  return h(
    'svg',
    { class: 'defs', width: 0, height: 0, 'aria-hidden': 'true', focusable: 'false' },
    h(
      'defs',
      {},
      // Top to bottom: high CKA (yellow) to low (purple), as the legend bar stands.
      h('linearGradient', { id: 'cka-gradient', x1: 0, y1: 0, x2: 0, y2: 1 }, stops),
      h(
        'pattern',
        {
          id: 'hatch-removed',
          width: 4,
          height: 4,
          patternUnits: 'userSpaceOnUse',
          patternTransform: 'rotate(45)',
        },
        h('rect', { width: 4, height: 4, fill: '#fbe9e7' }),
        h('line', { x1: 0, y1: 0, x2: 0, y2: 4, stroke: REMOVED_COLOR, 'stroke-width': 1.6 }),
      ),
    ),
  );
}
