// Markdown tables of the selection benchmark (docs/selection-benchmark.md) from its JSON rows: one table per
// family with every case's metric per rule, then each rule's mean rank, wins and selection time, which is
// what picks the default rule. Images rank by accuracy after batch-norm recalibration (what the default
// pipeline hands over without fine-tuning); text by perplexity as pruned (no repair applies).
//   node bench/selection/table.mjs bench/results/selection-lavapipe.json

import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'bench/results/selection-lavapipe.json';
const { rows } = JSON.parse(readFileSync(file, 'utf8'));
const RULES = [
  'similarity',
  'loss',
  'gradnorm-min',
  'gradnorm-max',
  'block-influence',
  'angular',
  'random',
  'last',
];

const isImage = (r) => 'accuracy' in r.before;
const fmt = (m) =>
  m === undefined ? '-' : 'accuracy' in m ? `${(100 * m.accuracy).toFixed(1)}` : m.perplexity.toFixed(2);
/** Higher is better. */
const value = (m) => (m === undefined ? Number.NaN : 'accuracy' in m ? m.accuracy : -m.perplexity);
const caseKey = (r) =>
  `${r.model}, ${r.remove}/${r.units}, ${r.segmentsAsked === null ? `elbow K ${r.segments}` : `K ${r.segments}`}`;

function family(image) {
  const mine = rows.filter((r) => isImage(r) === image);
  const cases = [...new Set(mine.map(caseKey))];
  const primary = image ? 'recalibrated' : 'pruned';
  const stages = image ? ['pruned', 'recalibrated', 'finetuned'] : ['pruned', 'finetuned'];
  const unit = image ? 'accuracy %' : 'perplexity';
  const out = [];
  out.push(`| case (model, removed/units, K) | before | ${RULES.join(' | ')} |`);
  out.push(`| --- | ---: | ${RULES.map(() => '---:').join(' | ')} |`);
  const stats = Object.fromEntries(RULES.map((r) => [r, { rank: [], wins: 0, tunedRank: [], ms: [] }]));
  for (const c of cases) {
    const here = mine.filter((r) => caseKey(r) === c);
    const by = Object.fromEntries(here.map((r) => [r.rule, r]));
    const cells = RULES.map((rule) => {
      const r = by[rule];
      return r ? stages.map((s) => fmt(r[s])).join(' / ') : 'n/a';
    });
    out.push(`| ${c} | ${fmt(here[0].before)} | ${cells.join(' | ')} |`);
    for (const [stage, key] of [
      [primary, 'rank'],
      ['finetuned', 'tunedRank'],
    ]) {
      const scored = RULES.filter((r) => by[r] && Number.isFinite(value(by[r][stage])));
      if (scored.length < RULES.length) continue;
      const v = (r) => value(by[r][stage]);
      for (const r of scored) {
        // Average rank with ties shared: 1 + (better ones) + (equal ones other than itself) / 2.
        const better = scored.filter((o) => v(o) > v(r)).length;
        const equal = scored.filter((o) => o !== r && v(o) === v(r)).length;
        stats[r][key].push(1 + better + equal / 2);
        if (key === 'rank' && better === 0) stats[r].wins++;
      }
    }
    for (const r of RULES) if (by[r]) stats[r].ms.push(by[r].selectionMs);
  }
  const mean = (a) => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : Number.NaN);
  out.push('');
  out.push(
    `Cells: ${unit} ${stages.join(' / ')}. Ranked on ${primary} over ${stats.similarity.rank.length} complete cases.`,
  );
  out.push('');
  out.push(`| rule | mean rank (${primary}) | best in | mean rank (fine-tuned) | mean selection time |`);
  out.push('| --- | ---: | ---: | ---: | ---: |');
  for (const r of [...RULES].sort((a, b) => mean(stats[a].rank) - mean(stats[b].rank))) {
    const s = stats[r];
    out.push(
      `| ${r} | ${mean(s.rank).toFixed(2)} | ${s.wins} of ${s.rank.length} | ${mean(s.tunedRank).toFixed(2)} | ${(mean(s.ms) / 1000).toFixed(1)} s |`,
    );
  }
  return out.join('\n');
}

console.log(`### Image classifiers\n\n${family(true)}\n\n### Language models\n\n${family(false)}`);
