// report.html: one self-contained page (inline CSS, inline SVG, one small inline script; no network, no
// external fonts) that opens from file://. Every string from the report goes through the escaping
// builder in markup.ts. The page holds no date or other run-dependent text beyond the report itself, so
// equal reports give equal pages.

import {
  REPORT_VERSION,
  type Report,
  type ReportSegmentImportance,
  type Score,
} from '../sglp/report/schema.js';
import { renderCandidateChart, unsearchedSegments } from './candidate-scores.js';
import { segmentColor } from './color.js';
import { sharedDefs } from './defs.js';
import { renderElbow } from './elbow.js';
import { sig } from './format.js';
import { markerLegend, renderHeader, renderUnitStrip } from './header.js';
import { renderHeatmap } from './heatmap.js';
import { methodLabel } from './labels.js';
import { type Child, h, type Markup, trusted } from './markup.js';
import { renderRowSums } from './row-sums.js';
import { PAGE_SCRIPT } from './script.js';
import { PAGE_CSS } from './style.js';
import { renderPasses, renderProtocol, renderTimings } from './tables.js';
import { renderUnitScores, SCORE_NAMES } from './unit-scores.js';
import { sharedPrefix } from './units.js';

export function renderReportHtml(report: Report): string {
  const title = `${report.model.name}: ${methodLabel(report)} pruning report`;
  const page = h(
    'html',
    { lang: 'en' },
    h(
      'head',
      {},
      h('meta', { charset: 'utf-8' }),
      h('meta', { name: 'viewport', content: 'width=device-width, initial-scale=1' }),
      // Nothing may load from anywhere: the page must look the same offline, and a report never calls home.
      h('meta', {
        'http-equiv': 'Content-Security-Policy',
        content: "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'",
      }),
      h('title', {}, title),
      h('style', {}, trusted(PAGE_CSS)),
    ),
    h(
      'body',
      {},
      sharedDefs(),
      h(
        'main',
        {},
        renderHeader(report),
        unitsSection(report),
        heatmapSection(report),
        segmentationSection(report),
        importanceSection(report),
        unitScoresSection(report),
        costSection(report),
        section(
          'protocol',
          'Protocol',
          'Everything this run was configured with; the same settings on the same model and data give the same report.',
          renderProtocol(report),
        ),
        h(
          'footer',
          {},
          `sglp-report.json version ${REPORT_VERSION} · this page is self-contained and works offline`,
        ),
      ),
      h('script', {}, trusted(PAGE_SCRIPT)),
    ),
  );
  return `<!doctype html>\n${page.html}\n`;
}

function section(id: string, heading: string, lede: Child, ...body: Child[]): Markup {
  return h(
    'section',
    { id, class: 'card', 'aria-labelledby': `${id}-h` },
    h('h2', { id: `${id}-h` }, heading),
    lede && h('p', { class: 'lede' }, lede),
    ...body,
  );
}

function unitsSection(report: Report): Markup {
  return section(
    'units',
    'Units',
    `${report.units.length} prunable units in order; ${report.removed.length} removed, ${report.kept.length} kept. Hover a unit for its name.`,
    renderUnitStrip(report),
  );
}

function heatmapSection(report: Report): Markup {
  const { cka } = report;
  const rows = cka.batchSize;
  const prefix = sharedPrefix(report.units.map((u) => u.name));
  return section(
    'cka',
    'CKA similarity',
    [
      `Linear CKA (${cka.estimator} estimator) between every pair of unit outputs, averaged over ${cka.batches} batch${cka.batches === 1 ? '' : 'es'} of ${rows} rows. Boxes on the diagonal are the segments.`,
      prefix && [' Axis labels show N for ', h('code', {}, `${prefix}N`), '.'],
    ],
    h(
      'div',
      { class: 'heatmap-layout' },
      h('figure', {}, renderHeatmap(report)),
      h(
        'div',
        { class: 'side' },
        h(
          'p',
          {},
          'Light cells: similar representations. Units inside one box form a segment; SGLP keeps the most important units of each.',
        ),
        markerLegend(),
        h('output', { id: 'cka-readout', class: 'readout' }, 'Hover a cell for its exact value.'),
      ),
    ),
  );
}

function segmentationSection(report: Report): Markup {
  const { segmentation, protocol } = report;
  const rule =
    segmentation.kRule === 'elbow'
      ? `K = ${segmentation.k} by the elbow rule: up to K max = ${protocol.segmentation.maxSegments}, the last k whose step cuts the loss by more than ${Number((protocol.segmentation.elbowThreshold * 100).toPrecision(3))}% (cuts in dark) sets K = k + 1.`
      : `K = ${segmentation.k}, fixed by --segments.`;
  return section(
    'segmentation',
    'Segmentation',
    "Each unit's row sum of the CKA matrix, split by Fisher's optimal partition into contiguous segments with the least squared distance to their means (dashed).",
    h(
      'div',
      { class: 'grid-2' },
      h(
        'figure',
        {},
        renderRowSums(report),
        h('figcaption', {}, 'Dots: kept units in their segment’s colour; red crosses: removed units.'),
      ),
      h('figure', {}, renderElbow(report), h('figcaption', {}, rule)),
    ),
  );
}

const SEARCH_SCORES: Record<Score, string> = {
  gradnorm: 'GradNorm',
  loss: 'loss',
  similarity: 'block influence, summed',
};

function importanceSection(report: Report): Markup | null {
  const { importance, protocol } = report;
  if (importance === undefined || protocol.importance === null) return null;
  const { select, samples, score } = protocol.importance;
  const names = report.units.map((u) => u.name);
  const rest = unsearchedSegments(report);
  const batches = `${samples.batches} batch${samples.batches === 1 ? '' : 'es'} of ${samples.batchSize}`;
  const scoreName = SEARCH_SCORES[score];
  const [title, lede] =
    score === 'similarity'
      ? [
          'Similarity ranking per segment',
          'Each segment keeps its protected units and the units with the highest block influence (1 − cos between a unit’s input and output on the calibration samples): the units that change their input least are removed. No search; the influence of every unit is charted below.',
        ]
      : score === 'loss'
        ? [
            'Loss search per segment',
            `Each candidate keeps a set of the segment’s units (protected ones always in) and is scored by the mean loss of the network with only that segment pruned (forward only, BN on its stored statistics), over ${batches}; the lowest wins.`,
          ]
        : [
            'GradNorm search per segment',
            `Each candidate keeps a set of the segment’s units (protected ones always in) and is scored by the gradient norm of the network with only that segment pruned, over ${batches}; ${
              select === 'min'
                ? 'the candidate with the lowest GradNorm wins (select min: the least disturbed network)'
                : 'the candidate with the highest GradNorm wins (select max: the authors’ direction)'
            }.`,
          ];
  return section(
    'importance',
    title,
    lede,
    h(
      'div',
      { class: 'cards' },
      importance.perSegment.map((p) => segmentCard(report, p, select, names, scoreName)),
    ),
    rest.length > 0 &&
      h(
        'p',
        { class: 'lede', style: 'margin-top:12px' },
        `Segment${rest.length === 1 ? '' : 's'} ${rest.map((s) => s + 1).join(', ')} keep${rest.length === 1 ? 's' : ''} all units: nothing to search.`,
      ),
  );
}

function segmentCard(
  report: Report,
  p: ReportSegmentImportance,
  select: 'min' | 'max',
  names: readonly string[],
  scoreName: string,
): Markup {
  const [start, end] = report.segmentation.segments[p.segment];
  const removed = new Set(report.removed);
  const dropped = names
    .slice(start, end)
    .map((name, i) => ({ name, i: start + i }))
    .filter((u) => removed.has(u.i));
  const n = p.candidates.length;
  return h(
    'article',
    { class: 'segment-card', style: `--seg:${segmentColor(p.segment)}` },
    h('h3', {}, `Segment ${p.segment + 1} `, h('span', { class: 'muted' }, `units ${start}–${end - 1}`)),
    h(
      'p',
      { class: 'meta' },
      p.search === 'ranked'
        ? `keeps ${p.keep} of ${end - start} · ranked by block influence`
        : `keeps ${p.keep} of ${end - start} · ${p.search} search · ${n} candidate${n === 1 ? '' : 's'}`,
    ),
    p.search !== 'ranked' && renderCandidateChart(p, select, names, scoreName),
    h(
      'p',
      { class: 'verdict' },
      h('strong', {}, `Kept (${scoreName} ${sig(p.best.score, 5)}): `),
      p.best.units.map((u) => h('span', { class: 'chip' }, names[u])),
    ),
    dropped.length > 0 &&
      h(
        'p',
        { class: 'verdict' },
        h('strong', {}, 'Removed: '),
        dropped.map((u) => h('span', { class: 'chip removed' }, u.name)),
      ),
  );
}

function unitScoresSection(report: Report): Markup | null {
  const chart = renderUnitScores(report);
  if (chart === null || report.unitScores === undefined) return null;
  return section(
    'unit-scores',
    'Unit scores',
    `The ${methodLabel(report)} baseline scores each unit by the ${SCORE_NAMES[report.unitScores.kind]} and removes the lowest-scoring units that are not protected.`,
    h('figure', {}, chart),
  );
}

function costSection(report: Report): Markup {
  return section(
    'cost',
    'Cost',
    'Wall-clock time of each stage on this device, and how many network passes the run made.',
    h('div', { class: 'tables' }, renderTimings(report), renderPasses(report)),
  );
}
