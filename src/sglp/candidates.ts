// The GradNorm search inside one segment (docs/method.md §4): which of the segment's units to keep, given how many
// it keeps. Every candidate keep-set holds the segment's protected units. When there are at most 2,000
// candidates all are scored; otherwise a greedy search drops one unit at a time. The scorer is injected
// (the real one prunes the segment to the candidate on the GPU and measures GradNorm), so this file is pure
// and every scored candidate is recorded for the report.
//
// Determinism: candidates are enumerated in lexicographic order of their sorted units and scored one at a
// time in that order; the best is replaced only by a strictly better score, so ties go to the earliest
// candidate (exhaustive) or the earliest unit dropped (greedy). A non-finite score is an error naming the
// candidate, never a silent NaN in the report.

/** The default limit on candidates for exhaustive search. */
export const MAX_EXHAUSTIVE = 2000;

/** Which GradNorm wins: 'min' (default, least disturbed network) or 'max' (the authors' direction). */
export type Select = 'min' | 'max';

/** 'ranked': no search, the similarity score ranks units (search-stage.ts rankSegments). */
export type SearchKind = 'exhaustive' | 'greedy' | 'ranked';

/**
 * A candidate whose scoring stopped early: its score is at least `atLeast`, which is above the bound it was
 * given, so it cannot win.
 */
export interface LowerBound {
  readonly atLeast: number;
}

/**
 * Scores one keep-set of the segment (sorted unit indices, protected units included). A min search passes
 * the best score so far as `bound`; a scorer may then stop once the candidate provably scores above it and
 * return a LowerBound instead (docs/method.md §4, "Stopping early").
 */
export type Scorer = (keepSet: readonly number[], bound?: number) => Promise<number | LowerBound>;

/** A Scorer that always scores in full. */
export type ExactScorer = (keepSet: readonly number[]) => Promise<number>;

export interface ScoredCandidate {
  readonly units: number[];
  /** The score, or with `lowerBound` a lower bound of it above the best score at the time. */
  readonly score: number;
  readonly lowerBound?: true;
}

export interface SearchResult {
  readonly keep: number;
  /** Every scored candidate, in the order scored. */
  readonly candidates: ScoredCandidate[];
  readonly best: ScoredCandidate;
  readonly search: SearchKind;
}

/** One entry of the report's `importance.perSegment`. */
export interface SegmentImportance extends SearchResult {
  /** Index of the segment in `segmentation.segments`. */
  readonly segment: number;
}

export interface SearchPlan {
  /** C(free units, keep − protected), exactly. */
  readonly count: bigint;
  readonly search: SearchKind;
}

/** C(n, k), exactly. */
export function binomial(n: number, k: number): bigint {
  if (!Number.isInteger(n) || !Number.isInteger(k) || n < 0) {
    throw new RangeError(`binomial(${n}, ${k}) needs integers with n >= 0`);
  }
  if (k < 0 || k > n) return 0n;
  const m = Math.min(k, n - k);
  let r = 1n;
  // r = C(n - m + i, i) after step i: each division is exact.
  for (let i = 1; i <= m; i++) r = (r * BigInt(n - m + i)) / BigInt(i);
  return r;
}

/** How many keep-sets the segment has, and whether they can all be scored. */
export function planSearch(
  units: readonly number[],
  protectedUnits: Iterable<number>,
  keep: number,
  maxExhaustive = MAX_EXHAUSTIVE,
): SearchPlan {
  const { free, fixed } = splitUnits(units, protectedUnits, keep);
  const count = binomial(free.length, keep - fixed.length);
  return { count, search: count <= BigInt(maxExhaustive) ? 'exhaustive' : 'greedy' };
}

/** Every keep-set, lazily, in lexicographic order of the sorted unit lists. */
export function* keepSets(
  units: readonly number[],
  protectedUnits: Iterable<number>,
  keep: number,
): Generator<number[]> {
  const { free, fixed } = splitUnits(units, protectedUnits, keep);
  const choose = keep - fixed.length;
  const pick = Array.from({ length: choose }, (_, i) => i);
  for (;;) {
    yield merge(
      fixed,
      pick.map((i) => free[i]),
    );
    // Advance to the next combination: bump the rightmost index that can move, reset those after it.
    let i = choose - 1;
    while (i >= 0 && pick[i] === free.length - choose + i) i--;
    if (i < 0) return;
    pick[i]++;
    for (let t = i + 1; t < choose; t++) pick[t] = pick[t - 1] + 1;
  }
}

/** Scores every keep-set; the best is the first with the best score. */
export async function exhaustiveSearch(
  units: readonly number[],
  protectedUnits: Iterable<number>,
  keep: number,
  score: Scorer,
  select: Select,
): Promise<SearchResult> {
  const candidates: ScoredCandidate[] = [];
  let best: ScoredCandidate | undefined;
  for (const set of keepSets(units, protectedUnits, keep)) {
    const scored = await scoreOf(score, set, select === 'min' ? best?.score : undefined);
    candidates.push(scored);
    if (best === undefined || better(scored.score, best.score, select)) best = scored;
  }
  // keepSets always yields at least one set.
  return { keep, candidates, best: best as ScoredCandidate, search: 'exhaustive' };
}

/**
 * From the whole segment, repeatedly drops the one unprotected unit whose removal gives the best score
 * (ties: the lowest unit) until `keep` units are left. Every keep-set tried is recorded; the best is the
 * set reached at the end. With nothing to drop, the whole segment is scored once as the only candidate.
 */
export async function greedySearch(
  units: readonly number[],
  protectedUnits: Iterable<number>,
  keep: number,
  score: Scorer,
  select: Select,
): Promise<SearchResult> {
  const { fixed } = splitUnits(units, protectedUnits, keep);
  const isFixed = new Set(fixed);
  let current = [...units].sort((a, b) => a - b);
  const candidates: ScoredCandidate[] = [];
  if (current.length === keep) {
    const only = await scoreOf(score, current);
    return { keep, candidates: [only], best: only, search: 'greedy' };
  }
  let step: ScoredCandidate | undefined;
  while (current.length > keep) {
    step = undefined;
    for (const u of current) {
      if (isFixed.has(u)) continue;
      const set = current.filter((v) => v !== u);
      const scored = await scoreOf(score, set, select === 'min' ? step?.score : undefined);
      candidates.push(scored);
      if (step === undefined || better(scored.score, step.score, select)) step = scored;
    }
    // splitUnits guarantees enough unprotected units, so a step always finds one.
    current = (step as ScoredCandidate).units;
  }
  return { keep, candidates, best: step as ScoredCandidate, search: 'greedy' };
}

/** The segment's search: exhaustive when it has at most `maxExhaustive` candidates, else greedy. */
export async function searchSegment(
  segment: number,
  units: readonly number[],
  protectedUnits: Iterable<number>,
  keep: number,
  score: Scorer,
  select: Select,
  maxExhaustive = MAX_EXHAUSTIVE,
): Promise<SegmentImportance> {
  const prot = [...protectedUnits];
  const plan = planSearch(units, prot, keep, maxExhaustive);
  const run = plan.search === 'exhaustive' ? exhaustiveSearch : greedySearch;
  return { segment, ...(await run(units, prot, keep, score, select)) };
}

function better(a: number, b: number, select: Select): boolean {
  return select === 'min' ? a < b : a > b;
}

async function scoreOf(score: Scorer, set: number[], bound?: number): Promise<ScoredCandidate> {
  const s = await score(set, bound);
  const value = typeof s === 'number' ? s : s?.atLeast;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RangeError(`score of keep-set [${set.join(', ')}] is ${value}, expected a finite number`);
  }
  if (typeof s === 'number') return { units: set, score: s };
  // A bound that does not exclude the candidate would make the search's choice depend on the scorer.
  if (bound === undefined || !(value > bound)) {
    throw new Error(
      `internal: keep-set [${set.join(', ')}] stopped at ${value}, not above the bound ${bound}`,
    );
  }
  return { units: set, score: value, lowerBound: true };
}

/** Sorted protected (`fixed`) and unprotected (`free`) units of the segment, after checking `keep`. */
function splitUnits(
  units: readonly number[],
  protectedUnits: Iterable<number>,
  keep: number,
): { free: number[]; fixed: number[] } {
  const sorted = [...units].sort((a, b) => a - b);
  sorted.forEach((u, i) => {
    if (!Number.isInteger(u)) throw new RangeError(`segment unit ${u} is not an integer`);
    if (i > 0 && u === sorted[i - 1]) throw new RangeError(`segment lists unit ${u} twice`);
  });
  if (sorted.length === 0) throw new RangeError('segment has no units');
  // The protected set may be the whole model's: only this segment's members count.
  const prot = new Set(protectedUnits);
  const fixed = sorted.filter((u) => prot.has(u));
  const free = sorted.filter((u) => !prot.has(u));
  if (!Number.isInteger(keep) || keep < fixed.length || keep > sorted.length) {
    throw new RangeError(
      `segment of units ${sorted.join(', ')} with ${fixed.length} protected cannot keep ${keep} ` +
        `(expected ${fixed.length} to ${sorted.length})`,
    );
  }
  return { free, fixed };
}

function merge(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i] < b[j])) out.push(a[i++]);
    else out.push(b[j++]);
  }
  return out;
}
