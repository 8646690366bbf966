// How many units each segment keeps (docs/method.md §3): given explicitly (`--keep-per-segment a,b,…`) or
// apportioned from a number R of units to remove (`--remove R`). Which units go is decided later, by the
// GradNorm search inside each segment; this file only fixes the counts.
//
// Interpretations of docs/method.md §3 chosen here (where the text leaves room):
// 1. Rounding: each round gives every active segment floor(left · w / W) (W = sum of the active weights,
//    exact integer arithmetic), then hands the units still missing one each to the largest fractional
//    remainders, ties to the earlier segment. A segment is active while it has room left.
// 2. Re-apportioning: a segment never takes more than its room; what its share exceeded is pooled and the
//    pool is apportioned again, by the same rule and the same (original) weights, over the segments that
//    still have room, until nothing is left or no segment has room.
// 3. Second pass: only the part of R the first pass could not place is apportioned; first-pass removals
//    stand. It covers every segment that does not hold the stem, including those of 1 or 2 units (a
//    2-unit segment has weight 1 and may lose its one unprotected unit; a 1-unit segment has no room).
//    Room in the second pass = min(size − 1, unprotected units) − units the first pass removed there.
// 4. The stem's segment never loses a unit under `--remove`. The stem is unit 0 by default; pass
//    `stem: null` for models without one (decoder LMs), and then every segment is eligible.
// 5. `--keep-per-segment` may ask any segment, the stem's included, for any count from its protected units
//    up to its size (0 is allowed where nothing is protected: docs/method.md states no other bound).

import type { Segment } from './segment.js';

export type KeepRequest = { readonly remove: number } | { readonly keepPerSegment: readonly number[] };

export interface KeepPlanOptions {
  /** The stem unit, whose segment is never pruned by `--remove` (default 0; null: no stem). */
  readonly stem?: number | null;
}

export interface KeepPlan {
  readonly source: 'remove' | 'explicit';
  /** Units kept per segment, protected units included. */
  readonly keep: number[];
  /** Units removed per segment (size − keep). */
  readonly removed: number[];
  /** Total units removed. */
  readonly remove: number;
  /** Whether `--remove` needed the second pass (segments down to one unit). */
  readonly secondPass: boolean;
}

/** A plan that cannot be met; `maxRemove` is the largest R that `target.remove` accepts for these segments. */
import { OptionError } from '../io/option-error.js';

export class KeepPlanError extends Error {
  constructor(
    message: string,
    readonly maxRemove?: number,
  ) {
    super(message);
    this.name = 'KeepPlanError';
  }
}

interface SegmentFacts {
  readonly size: number;
  readonly protectedCount: number;
  readonly holdsStem: boolean;
}

/** Keep counts per segment from `--remove R` or `--keep-per-segment`. */
export function planKeep(
  segments: readonly Segment[],
  protectedUnits: Iterable<number>,
  request: KeepRequest,
  options: KeepPlanOptions = {},
): KeepPlan {
  const facts = segmentFacts(segments, protectedUnits, options.stem === undefined ? 0 : options.stem);
  if ('keepPerSegment' in request) return explicitPlan(segments, facts, request.keepPerSegment);
  return removePlan(facts, request.remove);
}

/** The largest R `--remove` can meet: every segment without the stem down to one unit or its protected ones. */
export function maxRemovable(
  segments: readonly Segment[],
  protectedUnits: Iterable<number>,
  options: KeepPlanOptions = {},
): number {
  const facts = segmentFacts(segments, protectedUnits, options.stem === undefined ? 0 : options.stem);
  return facts.reduce((sum, f) => sum + (f.holdsStem ? 0 : secondPassCap(f)), 0);
}

function removePlan(facts: readonly SegmentFacts[], total: number): KeepPlan {
  if (!Number.isInteger(total) || total < 0) {
    throw new OptionError(
      'target.remove',
      (n) => `${n('target.remove')} must be an integer >= 0, got ${total}`,
    );
  }
  const max = facts.reduce((sum, f) => sum + (f.holdsStem ? 0 : secondPassCap(f)), 0);
  if (total > max) {
    const why = facts.some((f) => f.holdsStem)
      ? "the stem's segment keeps all its units; every other segment keeps"
      : 'every segment keeps';
    throw new KeepPlanError(
      `cannot remove ${total} units: at most ${max} can be removed (${why} its protected units and at least one unit)`,
      max,
    );
  }
  // First pass: segments of more than 2 units without the stem, weight size − 2.
  const eligible = facts.map((f) => !f.holdsStem && f.size > 2);
  const first = apportion(
    total,
    facts.map((f, i) => (eligible[i] ? f.size - 2 : 0)),
    facts.map((f, i) => (eligible[i] ? Math.min(f.size - 2, f.size - f.protectedCount) : 0)),
  );
  let removed = first.given;
  const secondPass = first.left > 0;
  if (secondPass) {
    // Second pass: every segment without the stem, weight size − 1, room what the first pass left.
    const second = apportion(
      first.left,
      facts.map((f) => (f.holdsStem ? 0 : f.size - 1)),
      facts.map((f, i) => (f.holdsStem ? 0 : secondPassCap(f) - removed[i])),
    );
    // Unreachable: total <= max is exactly the second pass's total room.
    if (second.left > 0) throw new Error(`keep plan: ${second.left} of ${total} units could not be placed`);
    removed = removed.map((r, i) => r + second.given[i]);
  }
  return {
    source: 'remove',
    keep: facts.map((f, i) => f.size - removed[i]),
    removed,
    remove: total,
    secondPass,
  };
}

function explicitPlan(
  segments: readonly Segment[],
  facts: readonly SegmentFacts[],
  keep: readonly number[],
): KeepPlan {
  if (keep.length !== facts.length) {
    throw new OptionError(
      'target.keepPerSegment',
      (n) => `${n('target.keepPerSegment')} has ${keep.length} counts but there are ${facts.length} segments`,
    );
  }
  facts.forEach((f, i) => {
    const k = keep[i];
    const name = `segment ${i} (units ${segments[i][0]}..${segments[i][1] - 1}, ${f.size} units, ${f.protectedCount} protected)`;
    if (!Number.isInteger(k))
      throw new OptionError(
        'target.keepPerSegment',
        (n) => `${n('target.keepPerSegment')}: ${name} keeps ${k}, not an integer`,
      );
    if (k < f.protectedCount || k > f.size) {
      throw new OptionError(
        'target.keepPerSegment',
        (n) => `${n('target.keepPerSegment')}: ${name} keeps ${k}, expected ${f.protectedCount} to ${f.size}`,
      );
    }
  });
  const removed = facts.map((f, i) => f.size - keep[i]);
  return {
    source: 'explicit',
    keep: [...keep],
    removed,
    remove: removed.reduce((a, b) => a + b, 0),
    secondPass: false,
  };
}

/**
 * Apportions `total` by `weights` (largest remainder, ties to the lower index) without exceeding `room`,
 * re-apportioning overflow over the entries that still have room. Returns what each entry got and what
 * could not be placed.
 */
export function apportion(
  total: number,
  weights: readonly number[],
  room: readonly number[],
): { given: number[]; left: number } {
  const given = weights.map(() => 0);
  let left = total;
  while (left > 0) {
    const active = weights.flatMap((w, i) => (w > 0 && room[i] - given[i] > 0 ? [i] : []));
    if (active.length === 0) break;
    const sumW = active.reduce((s, i) => s + weights[i], 0);
    const share = new Map<number, number>();
    const rest: { i: number; r: number }[] = [];
    let placed = 0;
    for (const i of active) {
      const num = left * weights[i];
      const r = num % sumW;
      share.set(i, (num - r) / sumW);
      rest.push({ i, r });
      placed += (num - r) / sumW;
    }
    // Same denominator for every entry, so integer remainders compare as the fractions do.
    rest.sort((a, b) => b.r - a.r || a.i - b.i);
    for (let t = 0; t < left - placed; t++) share.set(rest[t].i, (share.get(rest[t].i) ?? 0) + 1);
    let overflow = 0;
    for (const i of active) {
      const want = share.get(i) ?? 0;
      const take = Math.min(want, room[i] - given[i]);
      given[i] += take;
      overflow += want - take;
    }
    left = overflow;
  }
  return { given, left };
}

function secondPassCap(f: SegmentFacts): number {
  return Math.max(0, Math.min(f.size - 1, f.size - f.protectedCount));
}

function segmentFacts(
  segments: readonly Segment[],
  protectedUnits: Iterable<number>,
  stem: number | null,
): SegmentFacts[] {
  if (segments.length === 0) throw new KeepPlanError('there are no segments to plan');
  let expect = 0;
  segments.forEach(([start, end], i) => {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start !== expect || end <= start) {
      throw new KeepPlanError(
        `segment ${i} is [${start}, ${end}), expected non-empty contiguous segments starting at unit ${expect}`,
      );
    }
    expect = end;
  });
  const units = expect;
  const prot = new Set(protectedUnits);
  for (const u of prot) {
    if (!Number.isInteger(u) || u < 0 || u >= units) {
      throw new KeepPlanError(`protected unit ${u} is not one of the ${units} units`);
    }
  }
  if (stem !== null && (!Number.isInteger(stem) || stem < 0 || stem >= units)) {
    throw new KeepPlanError(`stem unit ${stem} is not one of the ${units} units`);
  }
  return segments.map(([start, end]) => {
    let protectedCount = 0;
    for (let u = start; u < end; u++) if (prot.has(u)) protectedCount++;
    return { size: end - start, protectedCount, holdsStem: stem !== null && stem >= start && stem < end };
  });
}
