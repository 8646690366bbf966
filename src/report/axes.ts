// Axis pieces shared by the line and dot charts: a left value axis with grid lines, and an x axis of
// unit names written vertically.

import { h, type Markup } from './markup.js';
import { type Linear, tickDecimals, ticks } from './scale.js';
import type { UnitView } from './units.js';

/** Rough width of a label: system sans-serif glyphs average about 0.58 em. */
export function textWidth(text: string, font: number): number {
  return text.length * font * 0.58;
}

/** The first of `texts` (longest first) that fits in `width` at `font` px in bold, else ''. */
export function fitLabel(texts: readonly string[], width: number, font: number): string {
  return texts.find((t) => textWidth(t, font) * 1.08 + 4 <= width) ?? '';
}

/** Grid lines across [x0, x1] and tick labels left of x0 for the scale `y`. */
export function valueAxis(
  y: Linear,
  x0: number,
  x1: number,
  count = 5,
  format?: (v: number) => string,
): Markup {
  const [lo, hi] = y.domain;
  const values = ticks(lo, hi, count);
  const decimals = tickDecimals(values);
  const show = format ?? ((v: number) => v.toFixed(decimals));
  return h(
    'g',
    { class: 'axis value-axis' },
    values.map((v) =>
      h(
        'g',
        {},
        h('line', { x1: x0, x2: x1, y1: y(v), y2: y(v), class: 'grid' }),
        h('text', { x: x0 - 6, y: y(v), class: 'tick end' }, show(v)),
      ),
    ),
  );
}

/** Unit names under the plot, vertical, centred on x(i); removed units struck through. */
export function unitAxis(
  views: readonly UnitView[],
  x: (i: number) => number,
  y: number,
  font: number,
  every = 1,
): Markup {
  return h(
    'g',
    { class: 'axis unit-axis', 'font-size': font },
    views.map(
      (v) =>
        v.index % every === 0 &&
        h(
          'text',
          {
            transform: `translate(${x(v.index)} ${y}) rotate(-90)`,
            class: v.removed
              ? 'unit-label removed end'
              : v.protected
                ? 'unit-label protected end'
                : 'unit-label end',
          },
          v.label,
        ),
    ),
  );
}

/** An axis title, rotated when vertical. */
export function axisTitle(text: string, x: number, y: number, vertical = false): Markup {
  return h(
    'text',
    { class: 'axis-title', ...(vertical ? { transform: `translate(${x} ${y}) rotate(-90)` } : { x, y }) },
    text,
  );
}
