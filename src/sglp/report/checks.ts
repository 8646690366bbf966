// Cross-field checks of sglp-report.json: the parts of a report must describe one run. Each problem is an
// issue at the path of the field that is wrong (or the later of two that disagree), so the error names it.
// They run only once the shape is valid, so every field here exists with its declared type. The search's
// checks (importance, unit scores) are in checks-search.ts.

import type * as z from 'zod';
import { elbowK } from '../segment.js';
import { type Issue, keptIn, type Path, TOLERANCE, unitLabel } from './checks-common.js';
import { checkImportance, checkUnitScores } from './checks-search.js';
import type { Report } from './schema.js';

export function checkReport(r: Report, ctx: z.RefinementCtx): void {
  const issue: Issue = (path, message) => ctx.addIssue({ code: 'custom', path, message });
  checkUnits(r, issue);
  checkCka(r, issue);
  const segmentsOk = checkSegmentation(r, issue);
  const partitionOk = checkPartition(r, issue);
  if (segmentsOk && partitionOk) {
    checkTarget(r, issue);
    checkImportance(r, issue);
  }
  if (partitionOk) checkReinitialised(r, issue);
  checkUnitScores(r, issue);
  checkMetrics(r, issue);
  checkSize(r, issue);
}

/** Re-initialised convs are kept units, each listed once, ascending. */
function checkReinitialised(r: Report, issue: Issue): void {
  const kept = new Set(r.kept);
  r.reinitialised?.forEach((x, i) => {
    if (!kept.has(x.unit))
      issue(['reinitialised', i, 'unit'], `is ${unitLabel(r, x.unit)}, which is not kept`);
    const prev = r.reinitialised?.[i - 1];
    if (prev !== undefined && prev.unit >= x.unit) {
      issue(
        ['reinitialised', i, 'unit'],
        `is ${x.unit} after ${prev.unit}, expected ascending distinct units`,
      );
    }
  });
}

function checkUnits(r: Report, issue: Issue): void {
  const seen = new Map<string, number>();
  r.units.forEach((u, i) => {
    if (u.index !== i)
      issue(['units', i, 'index'], `is ${u.index}, expected ${i} (its position in the list)`);
    const first = seen.get(u.name);
    if (first !== undefined) issue(['units', i, 'name'], `"${u.name}" repeats units[${first}].name`);
    else seen.set(u.name, i);
  });
}

function checkSampling(
  s: { samples: number; batchSize: number; batches: number },
  path: Path,
  issue: Issue,
): void {
  const expected = Math.ceil(s.samples / s.batchSize);
  if (s.batches !== expected) {
    issue(
      [...path, 'batches'],
      `is ${s.batches}, but ${s.samples} samples in batches of ${s.batchSize} make ${expected}`,
    );
  }
}

function checkCka(r: Report, issue: Issue): void {
  const n = r.units.length;
  const { cka, protocol } = r;
  checkSampling(protocol.features, ['protocol', 'features'], issue);
  if (protocol.importance)
    checkSampling(protocol.importance.samples, ['protocol', 'importance', 'samples'], issue);
  if (cka.estimator !== protocol.estimator) {
    issue(['cka', 'estimator'], `is "${cka.estimator}", but protocol.estimator is "${protocol.estimator}"`);
  }
  if (cka.batches !== protocol.features.batches) {
    issue(
      ['cka', 'batches'],
      `is ${cka.batches}, but protocol.features.batches is ${protocol.features.batches}`,
    );
  }
  const rows = protocol.features.batchSize * (protocol.data.seqLen ?? 1);
  if (cka.batchSize !== rows) {
    const why = protocol.data.seqLen === null ? 'protocol.features.batchSize' : 'windows per batch × seqLen';
    issue(['cka', 'batchSize'], `is ${cka.batchSize}, expected ${rows} (${why})`);
  }
  const m = cka.matrix;
  if (m.length !== n) {
    issue(['cka', 'matrix'], `has ${m.length} rows, expected ${n} (one per unit)`);
    return;
  }
  let square = true;
  m.forEach((row, i) => {
    if (row.length !== n) {
      issue(['cka', 'matrix', i], `has ${row.length} values, expected ${n} (one per unit)`);
      square = false;
    }
  });
  if (!square) return;
  for (let i = 0; i < n; i++) {
    if (m[i][i] !== 1) issue(['cka', 'matrix', i, i], `is ${m[i][i]}, expected exactly 1 on the diagonal`);
    for (let j = i + 1; j < n; j++) {
      if (Math.abs(m[i][j] - m[j][i]) > TOLERANCE) {
        issue(['cka', 'matrix', j, i], `is ${m[j][i]}, but [${i}][${j}] is ${m[i][j]} (not symmetric)`);
      }
    }
  }
}

/** Segments tile the units; returns whether they do (later checks index units by segment). */
function checkSegmentation(r: Report, issue: Issue): boolean {
  const n = r.units.length;
  const s = r.segmentation;
  const { segmentation: asked } = r.protocol;
  if (s.rowSums.length !== n) {
    issue(['segmentation', 'rowSums'], `has ${s.rowSums.length} values, expected ${n} (one per unit)`);
  } else if (r.cka.matrix.length === n && r.cka.matrix.every((row) => row.length === n)) {
    r.cka.matrix.forEach((row, i) => {
      const sum = row.reduce((a, b) => a + b, 0);
      if (Math.abs(sum - s.rowSums[i]) > TOLERANCE * Math.max(1, Math.abs(sum))) {
        issue(
          ['segmentation', 'rowSums', i],
          `is ${s.rowSums[i]}, but row ${i} of cka.matrix sums to ${sum}`,
        );
      }
    });
  }
  for (let k = 1; k < s.lossByK.length; k++) {
    if (s.lossByK[k] > s.lossByK[k - 1] + TOLERANCE * s.lossByK[0]) {
      issue(
        ['segmentation', 'lossByK', k],
        `is ${s.lossByK[k]}, more than with one segment fewer (${s.lossByK[k - 1]})`,
      );
    }
  }
  if (s.segments.length !== s.k) {
    issue(['segmentation', 'segments'], `has ${s.segments.length} segments, but k is ${s.k}`);
  }
  if (s.lossByK.length < s.k) {
    issue(['segmentation', 'lossByK'], `has ${s.lossByK.length} values, expected at least k = ${s.k}`);
  }
  if (asked.segments === null) {
    if (s.kRule !== 'elbow')
      issue(['segmentation', 'kRule'], 'is "fixed", but protocol.segmentation.segments is null');
    else if (s.lossByK.length >= Math.min(asked.maxSegments, n)) {
      const k = elbowK(s.lossByK.slice(0, Math.min(asked.maxSegments, n)), asked.elbowThreshold);
      if (k !== s.k) issue(['segmentation', 'k'], `is ${s.k}, but the elbow rule on lossByK gives ${k}`);
    }
  } else {
    if (s.kRule !== 'fixed') {
      issue(
        ['segmentation', 'kRule'],
        `is "${s.kRule}", but protocol.segmentation.segments is ${asked.segments}`,
      );
    }
    if (s.k !== asked.segments) {
      issue(['segmentation', 'k'], `is ${s.k}, but protocol.segmentation.segments is ${asked.segments}`);
    }
  }
  let expectedStart = 0;
  let ok = true;
  s.segments.forEach(([start, end], i) => {
    if (start !== expectedStart) {
      issue(
        ['segmentation', 'segments', i, 0],
        `starts at ${start}, expected ${expectedStart} (segments are contiguous)`,
      );
      ok = false;
    }
    if (end <= start) {
      issue(['segmentation', 'segments', i, 1], `ends at ${end}, expected more than its start ${start}`);
      ok = false;
    }
    expectedStart = end;
  });
  if (ok && expectedStart !== n) {
    issue(['segmentation', 'segments'], `cover units 0 to ${expectedStart}, expected all ${n}`);
    ok = false;
  }
  return ok && s.segments.length > 0;
}

/** A sorted list of distinct unit indices; returns whether it is one. */
function checkIndexList(list: readonly number[], n: number, path: Path, issue: Issue): boolean {
  let ok = true;
  list.forEach((u, i) => {
    if (u >= n) {
      issue([...path, i], `is ${u}, but there are only ${n} units`);
      ok = false;
    } else if (i > 0 && u <= list[i - 1]) {
      issue([...path, i], `is ${u} after ${list[i - 1]}, expected distinct indices in ascending order`);
      ok = false;
    }
  });
  return ok;
}

/** kept and removed split the units; protected units are kept. */
function checkPartition(r: Report, issue: Issue): boolean {
  const n = r.units.length;
  const okKept = checkIndexList(r.kept, n, ['kept'], issue);
  const okRemoved = checkIndexList(r.removed, n, ['removed'], issue);
  if (!okKept || !okRemoved) return false;
  let ok = true;
  const kept = new Set(r.kept);
  r.removed.forEach((u, i) => {
    if (kept.has(u)) {
      issue(['removed', i], `lists ${unitLabel(r, u)}, which kept lists too`);
      ok = false;
    } else if (r.units[u].protected) {
      issue(['removed', i], `lists ${unitLabel(r, u)}, which is protected`);
      ok = false;
    }
  });
  if (r.kept.length + r.removed.length !== n && ok) {
    const missing = r.units.map((_, i) => i).filter((i) => !kept.has(i) && !r.removed.includes(i));
    issue(['kept'], `with removed misses unit${missing.length === 1 ? '' : 's'} ${missing.join(', ')}`);
    ok = false;
  }
  return ok;
}

function checkTarget(r: Report, issue: Issue): void {
  const t = r.protocol.target;
  if ('remove' in t) {
    if (r.removed.length !== t.remove) {
      issue(['removed'], `lists ${r.removed.length} units, but protocol.target.remove is ${t.remove}`);
    }
    return;
  }
  const segs = r.segmentation.segments;
  if (t.keepPerSegment.length !== segs.length) {
    issue(
      ['protocol', 'target', 'keepPerSegment'],
      `has ${t.keepPerSegment.length} counts, but there are ${segs.length} segments`,
    );
    return;
  }
  segs.forEach((seg, i) => {
    const kept = keptIn(r, seg).length;
    if (kept !== t.keepPerSegment[i]) {
      issue(
        ['protocol', 'target', 'keepPerSegment', i],
        `is ${t.keepPerSegment[i]}, but kept holds ${kept} units of segment ${i}`,
      );
    }
  });
}

function checkMetrics(r: Report, issue: Issue): void {
  const language = r.model.architecture === 'llama';
  if (language !== (r.protocol.data.seqLen !== null)) {
    const expected = language ? 'a window length for a language model' : 'null for images';
    issue(['protocol', 'data', 'seqLen'], `is ${r.protocol.data.seqLen}, expected ${expected}`);
  }
  const entries = Object.entries(r.metrics).filter(([, m]) => m !== undefined);
  for (const [key, m] of entries) {
    if (m === undefined) continue;
    if ('perplexity' in m !== language) {
      const expected = language ? 'perplexity, nll, tokens' : 'accuracy, loss, samples';
      issue(['metrics', key], `expected {${expected}} for architecture "${r.model.architecture}"`);
    } else if ('perplexity' in m && Math.abs(m.perplexity - Math.exp(m.nll)) > TOLERANCE * m.perplexity) {
      issue(['metrics', key, 'perplexity'], `is ${m.perplexity}, but exp(nll) is ${Math.exp(m.nll)}`);
    }
  }
  const recal = r.protocol.recalibration;
  if (recal && r.metrics.recalibrated === undefined) {
    issue(['metrics', 'recalibrated'], 'missing (protocol.recalibration is set)');
  }
  if (!recal && r.metrics.recalibrated !== undefined) {
    issue(['metrics', 'recalibrated'], 'is present, but protocol.recalibration is not set');
  }
  if (recal && language)
    issue(['protocol', 'recalibration'], 'is set, but a language model has no batch norm');
  const tuned = r.protocol.finetune !== null;
  if (tuned && r.metrics.afterFinetune === undefined) {
    issue(['metrics', 'afterFinetune'], 'missing (protocol.finetune is set)');
  }
  if (!tuned && r.metrics.afterFinetune !== undefined) {
    issue(['metrics', 'afterFinetune'], 'is present, but protocol.finetune is null');
  }
}

function checkSize(r: Report, issue: Issue): void {
  const { size } = r;
  if (size.paramsAfter > size.paramsBefore) {
    issue(['size', 'paramsAfter'], `is ${size.paramsAfter}, more than paramsBefore ${size.paramsBefore}`);
  }
  if (size.macsAfter > size.macsBefore) {
    issue(['size', 'macsAfter'], `is ${size.macsAfter}, more than macsBefore ${size.macsBefore}`);
  }
  const unitParams = r.units.reduce((a, u) => a + u.params, 0);
  if (unitParams > size.paramsBefore) {
    issue(['size', 'paramsBefore'], `is ${size.paramsBefore}, less than the units' own ${unitParams}`);
  }
}
