// Cross-field checks of a report's search (checks.ts runs them): the per-segment candidates and best
// keep-sets against the segmentation, the kept units and the protocol, and the per-unit scores.

import { binomial } from '../candidates.js';
import { type Issue, keptIn, unitLabel } from './checks-common.js';
import type { Report } from './schema.js';

function sameUnits(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((u, i) => u === b[i]);
}

export function checkImportance(r: Report, issue: Issue): void {
  const { importance, protocol } = r;
  if (protocol.method === 'sglp' && protocol.importance === null) {
    issue(['protocol', 'importance'], 'is null, but method "sglp" scores inside the segments');
  }
  if (protocol.method !== 'sglp' && protocol.importance !== null) {
    issue(['protocol', 'importance'], `is set, but method "${protocol.method}" does not search`);
  }
  if (importance === undefined) {
    if (protocol.importance !== null) issue(['importance'], 'missing (protocol.importance is set)');
    return;
  }
  if (protocol.importance === null) {
    issue(['importance'], 'is present, but protocol.importance is null');
    return;
  }
  const { select, maxExhaustive, score } = protocol.importance;
  const ranked = score === 'similarity';
  const segs = r.segmentation.segments;
  const kinds = new Set(importance.perSegment.map((p) => p.search));
  const summary =
    kinds.size === 0
      ? undefined
      : kinds.size === 2 && !kinds.has('ranked')
        ? 'mixed'
        : [...kinds].join(' and ');
  if (summary !== undefined && importance.search !== summary) {
    issue(['importance', 'search'], `is "${importance.search}", but the segments say "${summary}"`);
  }
  importance.perSegment.forEach((p, i) => {
    const path = ['importance', 'perSegment', i];
    if (p.segment >= segs.length) {
      issue([...path, 'segment'], `is ${p.segment}, but there are only ${segs.length} segments`);
      return;
    }
    if (i > 0 && p.segment <= importance.perSegment[i - 1].segment) {
      issue([...path, 'segment'], `is ${p.segment}, expected segments in ascending order, each once`);
    }
    if ((p.search === 'ranked') !== ranked) {
      issue([...path, 'search'], `is "${p.search}", but score "${score}" ${ranked ? 'ranks' : 'searches'}`);
    }
    if (p.search === 'ranked' && p.candidates.length !== 1) {
      issue([...path, 'candidates'], `has ${p.candidates.length}, but a ranking gives one (the kept set)`);
    }
    const [start, end] = segs[p.segment];
    const kept = keptIn(r, segs[p.segment]);
    if (p.keep !== kept.length) {
      issue([...path, 'keep'], `is ${p.keep}, but kept holds ${kept.length} units of segment ${p.segment}`);
    }
    const prot = r.units
      .slice(start, end)
      .filter((u) => u.protected)
      .map((u) => u.index);
    p.candidates.forEach((c, j) => {
      // A greedy step's bound is that step's best, which the final best may exceed.
      if (c.lowerBound && !(select === 'min' && (p.search === 'greedy' || c.score > p.best.score))) {
        issue(
          [...path, 'candidates', j, 'lowerBound'],
          `is set, but only a min search stops candidates, above the best score ${p.best.score}`,
        );
      }
      const cPath = [...path, 'candidates', j, 'units'];
      const inside = c.units.every((u, t) => u >= start && u < end && (t === 0 || u > c.units[t - 1]));
      if (!inside) issue(cPath, `is [${c.units.join(', ')}], expected ascending units of [${start}, ${end})`);
      const lacks = prot.filter((u) => !c.units.includes(u));
      if (lacks.length > 0) issue(cPath, `lacks protected ${lacks.map((u) => unitLabel(r, u)).join(', ')}`);
      if (p.search === 'exhaustive' && c.units.length !== p.keep) {
        issue(
          cPath,
          `keeps ${c.units.length} units, but an exhaustive search of keep ${p.keep} tries only that many`,
        );
      }
    });
    if (!sameUnits(p.best.units, kept)) {
      issue(
        [...path, 'best', 'units'],
        `is [${p.best.units.join(', ')}], but kept holds [${kept.join(', ')}] there`,
      );
    }
    if (p.best.lowerBound) issue([...path, 'best', 'lowerBound'], 'is set, but the best was scored in full');
    if (!p.candidates.some((c) => sameUnits(c.units, p.best.units) && c.score === p.best.score)) {
      issue([...path, 'best'], 'is not one of the candidates (same units and score)');
    }
    if (p.search === 'exhaustive') {
      const expected = binomial(end - start - prot.length, p.keep - prot.length);
      if (BigInt(p.candidates.length) !== expected) {
        issue(
          [...path, 'candidates'],
          `has ${p.candidates.length} candidates, but an exhaustive search has ${expected}`,
        );
      } else if (expected > BigInt(maxExhaustive)) {
        issue(
          [...path, 'search'],
          `is exhaustive over ${expected} candidates, more than maxExhaustive ${maxExhaustive}`,
        );
      }
      const scores = p.candidates.map((c) => c.score);
      const bestScore = select === 'min' ? Math.min(...scores) : Math.max(...scores);
      if (p.best.score !== bestScore) {
        issue([...path, 'best', 'score'], `is ${p.best.score}, but select "${select}" picks ${bestScore}`);
      }
    }
  });
}

export function checkUnitScores(r: Report, issue: Issue): void {
  const { method } = r.protocol;
  const similarity = r.protocol.importance?.score === 'similarity';
  const kind = similarity
    ? 'block-influence'
    : method === 'block-influence' || method === 'angular'
      ? method
      : undefined;
  const why = similarity ? 'the similarity score' : `method "${method}"`;
  if (r.unitScores === undefined) {
    if (kind) issue(['unitScores'], `missing (${why} ranks units by their scores)`);
    return;
  }
  if (r.unitScores.kind !== kind) {
    issue(
      ['unitScores', 'kind'],
      `is "${r.unitScores.kind}", but ${why} ${kind ? `reads "${kind}"` : 'reads none'}`,
    );
  }
  if (r.unitScores.scores.length !== r.units.length) {
    issue(
      ['unitScores', 'scores'],
      `has ${r.unitScores.scores.length} values, expected ${r.units.length} (one per unit)`,
    );
  }
}
