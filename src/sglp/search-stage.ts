// Stages 3–4 of the pipeline (pipeline.ts) around the family's scorers: the option defaults and checks,
// the search over the segments that lose units (loss or GradNorm; the similarity ranking), and the choice
// of removed units (by the search, or by a baseline).

import type { ModelDescription } from '../arch/types.js';
import { checkCount, OptionError } from '../io/option-error.js';
import {
  CosineScores,
  checkBudget,
  chooseLast,
  chooseLowest,
  chooseRandom,
  removableUnits,
  type ScoredBaseline,
} from './baselines.js';
import {
  MAX_EXHAUSTIVE,
  planSearch,
  type Scorer,
  type SegmentImportance,
  type Select,
  searchSegment,
} from './candidates.js';
import type { Estimator } from './cka.js';
import { type KeepRequest, planKeep } from './keep-plan.js';
import { METHODS, type Method, type Report, SCORES, type Score } from './report/schema.js';
import type { Segmentation } from './segment.js';

export type PruneStage =
  | 'features'
  | 'cka'
  | 'segment'
  | 'importance'
  | 'eval-before'
  | 'eval-after'
  | 'recalibrate'
  | 'eval-recalibrated'
  | 'finetune'
  | 'eval-finetuned';

export interface PruneProgress {
  readonly stage: PruneStage;
  /** Steps done and total in this stage (batches, or candidates for 'importance'). */
  readonly done: number;
  readonly total: number;
  /** e.g. `segment 2 of 5` during the search. */
  readonly detail?: string;
  /** What the stage is for this run, when the stage name says too little: `GradNorm search`, `loss search`. */
  readonly label?: string;
}

/** A pipeline's default protocol (SGLP_DEFAULTS, SGLP_TEXT_DEFAULTS). */
export interface ProtocolDefaults {
  readonly samples: number;
  readonly batch: number;
  readonly gradnormBatches: number;
  readonly gradnormBatchSize: number;
  readonly evalBatch: number;
  readonly estimator: Estimator;
  readonly select: Select;
  readonly score: Score;
}

/** The options both pipelines read the same way (a subset of PruneOptions). */
export interface SettingsOptions {
  readonly target: KeepRequest;
  readonly method?: Method;
  readonly seed?: number;
  readonly samples?: number;
  readonly batch?: number;
  readonly estimator?: Estimator;
  readonly select?: Select;
  readonly score?: Score;
  readonly gradnormBatches?: number;
  readonly gradnormBatchSize?: number;
  readonly maxExhaustive?: number;
  readonly evalLimit?: number;
  readonly evalBatch?: number;
}

/** The options with their defaults filled in, checked. */
export interface PruneSettings {
  readonly method: Method;
  readonly sglp: boolean;
  readonly seed: number;
  readonly samples: number;
  readonly batch: number;
  readonly gBatches: number;
  readonly gSize: number;
  readonly evalBatch: number;
  readonly estimator: Estimator;
  /** Which candidate score wins: `--select` for GradNorm, min for the loss, max for similarity. */
  readonly select: Select;
  readonly score: Score;
  readonly maxExhaustive: number;
}

/** Why a method cannot take this target (a baseline given keep counts), or undefined. */
export function methodTargetError(method: Method, target: KeepRequest): OptionError | undefined {
  if (method === 'sglp' || 'remove' in target) return undefined;
  return new OptionError(
    ['method', 'target.keepPerSegment'],
    (n) =>
      `${n('method')} ${method} takes ${n('target.remove')} R, not ${n('target.keepPerSegment')}: the ` +
      'baselines remove R units anywhere and have no segments to keep units in',
  );
}

/** Fills in the defaults and checks every value (data sizes are the caller's to check). */
export function resolveSettings(
  options: SettingsOptions,
  defaults: ProtocolDefaults,
  desc: ModelDescription,
): PruneSettings {
  const samples = options.samples ?? defaults.samples;
  const batch = options.batch ?? defaults.batch;
  const gBatches = options.gradnormBatches ?? defaults.gradnormBatches;
  const gSize = options.gradnormBatchSize ?? defaults.gradnormBatchSize;
  const evalBatch = options.evalBatch ?? defaults.evalBatch;
  const estimator = options.estimator ?? defaults.estimator;
  // The similarity score needs block influence; where it is undefined (VGG) the default searches by loss.
  const score =
    options.score ??
    (defaults.score === 'similarity' && !CosineScores.defined(desc) ? 'loss' : defaults.score);
  if (!SCORES.includes(score)) {
    throw new OptionError(
      'score',
      (n) => `${n('score')} must be one of ${SCORES.join(', ')}, got "${score}"`,
    );
  }
  if (options.select !== undefined && score !== 'gradnorm') {
    throw new OptionError(
      ['select', 'score'],
      (n) => `${n('select')} chooses between GradNorm scores; it does not apply to ${n('score')} ${score}`,
    );
  }
  const select =
    score === 'loss' ? 'min' : score === 'similarity' ? 'max' : (options.select ?? defaults.select);
  const maxExhaustive = options.maxExhaustive ?? MAX_EXHAUSTIVE;
  const method = options.method ?? 'sglp';
  const seed = options.seed ?? 0;
  if (!METHODS.includes(method)) {
    throw new OptionError(
      'method',
      (n) => `${n('method')} must be one of ${METHODS.join(', ')}, got "${method}"`,
    );
  }
  if (!Number.isSafeInteger(seed)) {
    throw new OptionError('seed', (n) => `${n('seed')} must be an integer, got ${seed}`);
  }
  const targetError = methodTargetError(method, options.target);
  if (targetError) throw targetError;
  const sglp = method === 'sglp';
  if (!sglp) checkBudget(method, (options.target as { remove: number }).remove, removableUnits(desc));
  checkCount('samples', samples);
  checkCount('batch', batch);
  checkCount('gradnormBatches', gBatches);
  checkCount('gradnormBatchSize', gSize);
  checkCount('evalBatch', evalBatch);
  checkCount('maxExhaustive', maxExhaustive);
  if (options.evalLimit !== undefined) checkCount('evalLimit', options.evalLimit);
  if (select !== 'min' && select !== 'max') {
    throw new OptionError('select', (n) => `${n('select')} must be min or max, got "${select}"`);
  }
  return {
    method,
    sglp,
    seed,
    samples,
    batch,
    gBatches,
    gSize,
    evalBatch,
    estimator,
    select,
    score,
    maxExhaustive,
  };
}

/**
 * The calibration samples and, when the settings search, the scoring batches against the `available`
 * train samples (text: windows); `only` says what the split has (`… has only 64 samples`).
 */
export function checkTrainSize(s: PruneSettings, available: number, only: string): void {
  if (s.samples > available) {
    throw new OptionError('samples', (n) => `${n('samples')} ${s.samples}: ${only}`);
  }
  if (s.sglp && s.score !== 'similarity' && s.gBatches * s.gSize > available) {
    throw new OptionError(
      ['gradnormBatches', 'gradnormBatchSize'],
      (n) => `${n('gradnormBatches')} ${s.gBatches} x ${n('gradnormBatchSize')} ${s.gSize}: ${only}`,
    );
  }
}

/** Whether the settings are the default protocol; only the searching scores read the scoring settings. */
export function isDefaultProtocol(
  s: PruneSettings,
  defaults: ProtocolDefaults,
  evalLimit: number | undefined,
): boolean {
  return (
    s.samples === defaults.samples &&
    s.batch === defaults.batch &&
    (!s.sglp ||
      s.score === 'similarity' ||
      (s.gBatches === defaults.gradnormBatches &&
        s.gSize === defaults.gradnormBatchSize &&
        s.maxExhaustive === MAX_EXHAUSTIVE)) &&
    evalLimit === undefined
  );
}

/** How many candidates searchSegment will score: all keep-sets, or every greedy step's trials. */
export function candidateCount(
  units: readonly number[],
  protectedUnits: readonly number[],
  keep: number,
  maxExhaustive = MAX_EXHAUSTIVE,
): number {
  const plan = planSearch(units, protectedUnits, keep, maxExhaustive);
  if (plan.search === 'exhaustive') return Number(plan.count);
  const prot = new Set(protectedUnits);
  const free = units.filter((u) => !prot.has(u)).length;
  let total = 0;
  for (let left = free, drop = units.length - keep; drop > 0; drop--, left--) total += left;
  return total;
}

/**
 * The similarity score (docs/method.md §4): in every segment that loses units, keep the protected units
 * and the unprotected ones with the highest block influence (ties: the earlier unit), i.e. remove the
 * units that change their input least. The one candidate recorded is the kept set, scored by the sum of
 * its units' influence (what the ranking maximises).
 */
export function rankSegments(
  segments: readonly (readonly [number, number])[],
  keepBySegment: readonly number[],
  protectedUnits: readonly number[],
  influence: readonly (number | null)[],
): SegmentImportance[] {
  const prot = new Set(protectedUnits);
  const out: SegmentImportance[] = [];
  segments.forEach(([a, b], i) => {
    const keep = keepBySegment[i];
    if (keep >= b - a) return;
    const units = Array.from({ length: b - a }, (_, k) => a + k);
    const fixed = units.filter((u) => prot.has(u));
    const free = units.filter((u) => !prot.has(u));
    for (const u of free) {
      const v = influence[u];
      if (v === null || v === undefined || !Number.isFinite(v)) {
        throw new Error(`similarity score: unit ${u} has no finite block influence (${v})`);
      }
    }
    const ranked = [...free].sort((x, y) => (influence[y] as number) - (influence[x] as number) || x - y);
    const kept = [...fixed, ...ranked.slice(0, keep - fixed.length)].sort((x, y) => x - y);
    const score = kept.reduce((t, u) => t + (prot.has(u) ? 0 : (influence[u] as number)), 0);
    const best = { units: kept, score };
    out.push({ segment: i, keep, candidates: [best], best, search: 'ranked' });
  });
  return out;
}

/**
 * GradNorm search (docs/method.md §4) in every segment that keeps fewer units than it has, in segment order;
 * `scorer` makes the segment's scorer, `progress` hears of every candidate scored.
 */
export async function searchSegments(
  segments: readonly (readonly [number, number])[],
  keepBySegment: readonly number[],
  protectedUnits: readonly number[],
  scorer: (segment: readonly [number, number]) => Scorer,
  o: { select: Select; maxExhaustive: number; score: Score; progress: (p: PruneProgress) => void },
): Promise<SegmentImportance[]> {
  const perSegment: SegmentImportance[] = [];
  const label = `${o.score === 'gradnorm' ? 'GradNorm' : o.score} search`;
  const searched = segments
    .map((s, i) => ({ s, i, keep: keepBySegment[i] }))
    .filter(({ s, keep }) => keep < s[1] - s[0]);
  for (const [j, { s, i, keep }] of searched.entries()) {
    const segUnits = Array.from({ length: s[1] - s[0] }, (_, k) => s[0] + k);
    const score = scorer(s);
    let scored = 0;
    const total = candidateCount(segUnits, protectedUnits, keep, o.maxExhaustive);
    const detail =
      `segment ${i + 1} of ${segments.length} (units ${s[0]}–${s[1] - 1}, keep ${keep}; ` +
      `searched segment ${j + 1} of ${searched.length})`;
    const counted = async (set: readonly number[], bound?: number) => {
      const v = await score(set, bound);
      o.progress({ stage: 'importance', done: ++scored, total, detail, label });
      return v;
    };
    perSegment.push(
      await searchSegment(i, segUnits, protectedUnits, keep, counted, o.select, o.maxExhaustive),
    );
  }
  return perSegment;
}

/** The units no searched segment's best candidate keeps (a segment not searched keeps all its units). */
export function removedBySearch(
  segments: readonly (readonly [number, number])[],
  perSegment: readonly SegmentImportance[],
  desc: ModelDescription,
): number[] {
  const keptSet = new Set<number>();
  segments.forEach(([a, b], i) => {
    const best = perSegment.find((p) => p.segment === i);
    if (best) for (const u of best.best.units) keptSet.add(u);
    else for (let u = a; u < b; u++) keptSet.add(u);
  });
  return desc.units.map((u) => u.index).filter((u) => !keptSet.has(u));
}

/** A baseline's choice of R removed units; the scored ones read `cosine`, filled by calibration. */
export function removedByBaseline(
  s: PruneSettings,
  desc: ModelDescription,
  target: KeepRequest,
  cosine: CosineScores | undefined,
): { removed: number[]; unitScores?: Report['unitScores'] } {
  const R = (target as { remove: number }).remove;
  const removable = removableUnits(desc);
  if (s.method === 'random') return { removed: chooseRandom(removable, R, s.seed) };
  if (s.method === 'last') return { removed: chooseLast(removable, R) };
  const method = s.method as ScoredBaseline;
  const scores = (cosine as CosineScores).scores(method);
  return { removed: chooseLowest(method, removable, scores, R), unitScores: { kind: method, scores } };
}

export interface Removal {
  readonly removed: number[];
  readonly perSegment: SegmentImportance[];
  readonly secondPass: boolean;
  readonly unitScores?: Report['unitScores'];
}

/**
 * Stages 3–4: SGLP's keep plan, then `search` (searchSegments with the pipeline's scorer) in the segments
 * that lose units; or a baseline's choice.
 */
export async function chooseRemoved(
  s: PruneSettings,
  desc: ModelDescription,
  seg: Segmentation,
  target: KeepRequest,
  plan: { readonly protectedUnits: readonly number[]; readonly stem: number | null },
  cosine: CosineScores | undefined,
  search: (keep: readonly number[]) => Promise<SegmentImportance[]>,
): Promise<Removal> {
  if (!s.sglp) return { ...removedByBaseline(s, desc, target, cosine), perSegment: [], secondPass: false };
  const keep = planKeep(seg.segments, plan.protectedUnits, target, { stem: plan.stem });
  if (s.score === 'similarity') {
    const scores = (cosine as CosineScores).scores('block-influence');
    const perSegment = rankSegments(seg.segments, keep.keep, plan.protectedUnits, scores);
    return {
      removed: removedBySearch(seg.segments, perSegment, desc),
      perSegment,
      secondPass: keep.secondPass,
      unitScores: { kind: 'block-influence', scores },
    };
  }
  const perSegment = await search(keep.keep);
  return {
    removed: removedBySearch(seg.segments, perSegment, desc),
    perSegment,
    secondPass: keep.secondPass,
  };
}
