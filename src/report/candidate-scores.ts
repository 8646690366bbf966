// The search of each segment (GradNorm or loss) as small multiples: every candidate keep-set's score, the winner
// highlighted. Few candidates: a dot plot with one labelled row each, best first. Many (exhaustive): the
// scores sorted best to worst, which shows how much the winner stands out. Greedy: the scores in the order
// tried, one group per step, each step's pick ringed.

import type { Candidate, Report, ReportSegmentImportance } from '../sglp/report/schema.js';
import { textWidth, valueAxis } from './axes.js';
import { segmentColor } from './color.js';
import { sig } from './format.js';
import { h, type Markup } from './markup.js';
import { linear, padded } from './scale.js';

const WIDTH = 360;
const DOT_ROWS_MAX = 16;
const FONT = 10;

type Select = 'min' | 'max';

/** What the scores are called in labels (set per chart by renderCandidateChart). */
let label = 'GradNorm';

function better(a: number, b: number, select: Select): boolean {
  return select === 'min' ? a < b : a > b;
}

/** The segment's candidate chart; `names` maps unit indices to names for tooltips. */
export function renderCandidateChart(
  p: ReportSegmentImportance,
  select: Select,
  names: readonly string[],
  scoreName = 'GradNorm',
): Markup {
  label = scoreName;
  const color = segmentColor(p.segment);
  if (p.search === 'greedy') return greedyPlot(p, select, names, color);
  if (p.candidates.length <= DOT_ROWS_MAX) return dotPlot(p, select, names, color);
  return rankPlot(p, select, names, color);
}

function isBest(c: Candidate, best: Candidate): boolean {
  return (
    c.score === best.score &&
    c.units.length === best.units.length &&
    c.units.every((u, i) => u === best.units[i])
  );
}

function tip(c: Candidate, names: readonly string[], extra = ''): Markup {
  return h(
    'title',
    {},
    `keeps ${c.units.map((u) => names[u]).join(', ') || 'none'}\n${label} ${c.lowerBound ? '≥ ' : ''}` +
      `${sig(c.score, 6)}${c.lowerBound ? ' (stopped: could not win)' : ''}${extra}`,
  );
}

function svg(height: number, label: string, ...children: Markup[]): Markup {
  return h(
    'svg',
    {
      class: 'chart candidates',
      viewBox: `0 0 ${WIDTH} ${height}`,
      width: WIDTH,
      height,
      role: 'img',
      'aria-label': label,
    },
    h('title', {}, label),
    ...children,
  );
}

function scoreAxisBottom(x: (v: number) => number, domain: [number, number], y: number): Markup {
  const [lo, hi] = domain;
  const values = [lo, (lo + hi) / 2, hi];
  return h(
    'g',
    { class: 'axis' },
    h('line', { x1: x(lo), x2: x(hi), y1: y, y2: y, class: 'baseline' }),
    values.map((v) => h('text', { x: x(v), y: y + 12, class: 'tick' }, sig(v, 3))),
  );
}

function dotPlot(
  p: ReportSegmentImportance,
  select: Select,
  names: readonly string[],
  color: string,
): Markup {
  const rows = [...p.candidates].sort((a, b) => (select === 'min' ? a.score - b.score : b.score - a.score));
  const labels = rows.map((c) => c.units.join(' ') || '(none)');
  const left = Math.ceil(Math.max(...labels.map((l) => textWidth(l, FONT)))) + 14;
  const rowH = 18;
  const top = 6;
  const height = top + rows.length * rowH + 40;
  const domain = padded(
    rows.map((c) => c.score),
    0.12,
  );
  const x = linear(domain, [left, WIDTH - 14]);
  return svg(
    height,
    `${label} of the ${rows.length} candidate keep-sets of segment ${p.segment + 1}, best first`,
    h(
      'g',
      {},
      rows.map((c, i) => {
        const y = top + (i + 0.5) * rowH;
        const best = isBest(c, p.best);
        return h(
          'g',
          { class: best ? 'row best' : 'row' },
          tip(c, names, best ? '\nbest' : ''),
          best &&
            h('rect', {
              x: 0,
              y: y - rowH / 2,
              width: WIDTH,
              height: rowH,
              fill: color,
              'fill-opacity': 0.12,
              rx: 3,
            }),
          h('text', { x: left - 8, y, class: `tick end${best ? ' strong' : ''}` }, labels[i]),
          h('line', { x1: left, x2: x(c.score), y1: y, y2: y, class: 'leader' }),
          h('circle', {
            cx: x(c.score),
            cy: y,
            r: best ? 5.5 : 4,
            fill: color,
            class: best ? 'best-dot' : 'dot',
          }),
        );
      }),
    ),
    scoreAxisBottom(x, domain, top + rows.length * rowH + 4),
    h(
      'text',
      { x: (left + WIDTH) / 2, y: height - 8, class: 'axis-title' },
      `${label}; rows list the units kept`,
    ),
  );
}

function rankPlot(
  p: ReportSegmentImportance,
  select: Select,
  names: readonly string[],
  color: string,
): Markup {
  const sorted = [...p.candidates].sort((a, b) => (select === 'min' ? a.score - b.score : b.score - a.score));
  const height = 170;
  const left = 48;
  const top = 10;
  const bottom = height - 30;
  const x = linear([0, Math.max(1, sorted.length - 1)], [left + 6, WIDTH - 12]);
  const y = linear(
    padded(
      sorted.map((c) => c.score),
      0.08,
    ),
    [bottom, top],
  );
  const r = sorted.length > 400 ? 1.6 : 2.4;
  return svg(
    height,
    `${label} of all ${sorted.length} candidate keep-sets of segment ${p.segment + 1}, sorted best to worst`,
    valueAxis(y, left, WIDTH - 8, 5),
    h(
      'g',
      {},
      sorted.map((c, i) =>
        isBest(c, p.best)
          ? null
          : h(
              'circle',
              { cx: x(i), cy: y(c.score), r, fill: color, 'fill-opacity': 0.7 },
              tip(c, names, `\nrank ${i + 1}`),
            ),
      ),
    ),
    h(
      'circle',
      { cx: x(0), cy: y(p.best.score), r: 5.5, fill: color, class: 'best-dot' },
      tip(p.best, names, '\nbest (rank 1)'),
    ),
    h(
      'text',
      // Below the winner when it has the lowest score, above when the highest: clear of the other dots.
      { x: x(0) + 2, y: y(p.best.score) + (select === 'min' ? 14 : -14), class: 'tick start strong' },
      `best ${sig(p.best.score, 4)}`,
    ),
    h(
      'text',
      { x: (left + WIDTH) / 2, y: height - 8, class: 'axis-title' },
      `candidates, ${select === 'min' ? 'lowest' : 'highest'} ${label} first`,
    ),
  );
}

function greedyPlot(
  p: ReportSegmentImportance,
  select: Select,
  names: readonly string[],
  color: string,
): Markup {
  // Steps: a greedy search tries every removable unit of the current set; each step's sets are one shorter.
  const steps: Candidate[][] = [];
  for (const c of p.candidates) {
    const last = steps[steps.length - 1];
    if (last && last[0].units.length === c.units.length) last.push(c);
    else steps.push([c]);
  }
  const height = 170;
  const left = 48;
  const top = 10;
  const bottom = height - 30;
  const x = linear([0, Math.max(1, p.candidates.length - 1)], [left + 6, WIDTH - 12]);
  const y = linear(
    padded(
      p.candidates.map((c) => c.score),
      0.08,
    ),
    [bottom, top],
  );
  // The best is the pick of the last step, so the last matching entry is the one to ring.
  let bestAt = p.candidates.length - 1;
  while (bestAt > 0 && !isBest(p.candidates[bestAt], p.best)) bestAt--;
  let offset = 0;
  const groups = steps.map((step, s) => {
    const start = offset;
    offset += step.length;
    const pick = step.reduce((b, c) => (better(c.score, b.score, select) ? c : b));
    return h(
      'g',
      {},
      s > 0 && h('line', { x1: x(start - 0.5), x2: x(start - 0.5), y1: top, y2: bottom, class: 'step-sep' }),
      step.map((c, i) =>
        h(
          'circle',
          {
            cx: x(start + i),
            cy: y(c.score),
            r: c === pick ? 4 : 2.4,
            fill: color,
            'fill-opacity': c === pick ? 1 : 0.5,
            class: c === pick ? 'pick' : undefined,
          },
          tip(c, names, `\nstep ${s + 1}${c === pick ? ', picked' : ''}`),
        ),
      ),
    );
  });
  return svg(
    height,
    `${label} of the keep-sets tried in the ${steps.length} greedy steps of segment ${p.segment + 1}`,
    valueAxis(y, left, WIDTH - 8, 5),
    h('g', {}, groups),
    h('circle', { cx: x(bestAt), cy: y(p.best.score), r: 7, class: 'best-ring' }),
    h(
      'text',
      { x: (left + WIDTH) / 2, y: height - 8, class: 'axis-title' },
      `${steps.length} greedy steps, one unit dropped per step`,
    ),
  );
}

/** Segment indices with nothing searched: they keep all their units. */
export function unsearchedSegments(report: Report): number[] {
  const searched = new Set(report.importance?.perSegment.map((p) => p.segment));
  return report.segmentation.segments.map((_, s) => s).filter((s) => !searched.has(s));
}
