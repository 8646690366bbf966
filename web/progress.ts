// The progress card: one bar per stage of the run, filled as the library reports batches.

import type { PruneProgress } from '../src/index.js';
import { $ } from './dom.js';

const STAGES: [PruneProgress['stage'], string][] = [
  ['features', 'Calibration + CKA'],
  ['importance', 'Selection inside the segments'],
  ['eval-before', 'Evaluation before'],
  ['eval-after', 'Evaluation as pruned'],
  ['recalibrate', 'Batch-norm recalibration'],
  ['eval-recalibrated', 'Evaluation after recalibration'],
];

export function progressView(): (p: PruneProgress) => void {
  const box = $('stages');
  box.replaceChildren();
  const rows = new Map<string, { row: HTMLElement; bar: HTMLElement; count: HTMLElement }>();
  for (const [stage, label] of STAGES) {
    const row = document.createElement('div');
    row.className = 'stage';
    row.dataset.stage = stage;
    const name = document.createElement('span');
    name.textContent = label;
    const track = document.createElement('div');
    track.className = 'bar';
    const bar = document.createElement('div');
    track.append(bar);
    const count = document.createElement('span');
    count.className = 'count';
    count.textContent = '–';
    row.append(name, track, count);
    box.append(row);
    rows.set(stage, { row, bar, count });
  }
  let searchDone = 0;
  return (p) => {
    const r = rows.get(p.stage);
    if (p.stage === 'importance') {
      searchDone++;
      $('progress-detail').textContent = `${p.detail ?? ''}: ${p.done}/${p.total} candidates`;
    }
    if (p.stage.startsWith('eval')) rows.get('importance')?.row.classList.add('done');
    if (!r) return;
    r.bar.style.width = `${(100 * p.done) / Math.max(1, p.total)}%`;
    r.count.textContent = p.stage === 'importance' ? `${searchDone} scored` : `${p.done}/${p.total}`;
    if (p.done === p.total && p.stage !== 'importance') r.row.classList.add('done');
  };
}
