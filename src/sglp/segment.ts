// Fisher's optimal partition (docs/method.md §2): split the sequence of CKA row sums into K contiguous segments
// that minimise the total within-segment sum of squared deviations from the segment mean. The dynamic
// programme keeps the argmin of every cell and backtracks through it, so the partition returned is exactly
// one that attains Loss[L, K] (the authors' code backtracks heuristically and often misses it).
//
// Tie-breaking: the DP scans the start j of the last segment in ascending order and replaces the best only
// on a strictly smaller loss, so among splits with exactly equal loss the earliest j wins (the last segment
// is as long as possible, recursively). JavaScript arithmetic is IEEE-754 double without contraction, so
// the same input gives the same partition on every engine.

import { OptionError } from '../io/option-error.js';

/** K_max of the elbow rule. */
export const DEFAULT_MAX_SEGMENTS = 6;
/** The elbow rule counts a step from k to k + 1 segments when it cuts the loss by more than this. */
export const ELBOW_THRESHOLD = 0.05;

/** Units [start, end) of one segment. */
export type Segment = [start: number, end: number];

export type KRule = 'elbow' | 'fixed';

export interface SegmentOptions {
  /** `--segments K`: this many segments instead of the elbow rule. */
  readonly segments?: number;
  /** K_max of the elbow rule (default 6). Capped at L, since no partition has more segments than units. */
  readonly maxSegments?: number;
}

/** The report's `segmentation` object (DESIGN.md). */
export interface Segmentation {
  readonly rowSums: number[];
  /** lossByK[k - 1] = Loss[L, k], for k = 1 .. max(K, min(K_max, L)). */
  readonly lossByK: number[];
  readonly k: number;
  readonly kRule: KRule;
  readonly segments: Segment[];
}

export interface FisherTable {
  /** L, the length of the sequence. */
  readonly length: number;
  /** The table holds k = 1 .. maxK. */
  readonly maxK: number;
  /** loss[k - 1][n] = Loss[n, k], the best loss of the first n values in k segments (Infinity if n < k). */
  readonly loss: Float64Array[];
  /** split[k - 1][n]: where the last segment starts in that best split (-1 if n < k). */
  readonly split: Int32Array[];
}

export interface CkaCheckOptions {
  /** Allowed |m[i][j] - m[j][i]| and |m[i][i] - 1| (default 1e-6). */
  readonly tolerance?: number;
  /** Unit names for error messages. */
  readonly names?: readonly string[];
}

/** Throws unless `values` is a non-empty sequence of finite numbers; names the first bad index. */
export function checkSequence(values: ArrayLike<number>): void {
  if (values.length === 0) throw new RangeError('cannot segment an empty sequence');
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new RangeError(`sequence value at index ${i} is ${values[i]}, expected a finite number`);
    }
  }
}

/**
 * D(j, n), the sum of squared deviations of values[j .. n) from their mean, in O(1) from prefix sums of x
 * and x^2. The values are centred on their overall mean first so the prefix sums stay small and the
 * subtraction loses little. A run of identical values costs exactly 0 (a prefix count of value changes
 * says so), because rounding noise there would otherwise defeat the elbow rule's `Loss = 0` test.
 */
export function segmentCost(values: ArrayLike<number>): (j: number, n: number) => number {
  checkSequence(values);
  const len = values.length;
  let mean = 0;
  for (let i = 0; i < len; i++) mean += values[i];
  mean /= len;
  const s1 = new Float64Array(len + 1);
  const s2 = new Float64Array(len + 1);
  // changes[i] = how many t < i have values[t] !== values[t - 1].
  const changes = new Int32Array(len + 1);
  for (let i = 0; i < len; i++) {
    const d = values[i] - mean;
    s1[i + 1] = s1[i] + d;
    s2[i + 1] = s2[i] + d * d;
    changes[i + 1] = changes[i] + (i > 0 && values[i] !== values[i - 1] ? 1 : 0);
  }
  return (j, n) => {
    if (changes[n] === changes[j + 1]) return 0;
    const s = s1[n] - s1[j];
    return Math.max(0, s2[n] - s2[j] - (s * s) / (n - j));
  };
}

/** Fills Loss[n, k] and its argmin for k = 1 .. maxK: O(maxK * L^2). */
export function fisherTable(values: ArrayLike<number>, maxK: number): FisherTable {
  const cost = segmentCost(values);
  const len = values.length;
  checkK(maxK, len, 'the number of segments');
  const loss: Float64Array[] = [];
  const split: Int32Array[] = [];
  for (let k = 1; k <= maxK; k++) {
    const row = new Float64Array(len + 1).fill(Number.POSITIVE_INFINITY);
    const arg = new Int32Array(len + 1).fill(-1);
    for (let n = k; n <= len; n++) {
      if (k === 1) {
        row[n] = cost(0, n);
        arg[n] = 0;
        continue;
      }
      const prev = loss[k - 2];
      // Every segment is non-empty: the first k - 1 segments need at least k - 1 values.
      for (let j = k - 1; j < n; j++) {
        const total = prev[j] + cost(j, n);
        if (total < row[n]) {
          row[n] = total;
          arg[n] = j;
        }
      }
    }
    loss.push(row);
    split.push(arg);
  }
  return { length: len, maxK, loss, split };
}

/** The optimal partition into k segments, read back through the stored argmins. */
export function backtrack(table: FisherTable, k: number): Segment[] {
  checkK(k, table.length, 'the number of segments');
  if (k > table.maxK) throw new RangeError(`the table holds up to ${table.maxK} segments, asked for ${k}`);
  const segments: Segment[] = [];
  let end = table.length;
  for (let kk = k; kk >= 1; kk--) {
    const start = table.split[kk - 1][end];
    segments.push([start, end]);
    end = start;
  }
  return segments.reverse();
}

/**
 * docs/method.md's elbow rule on lossByK (lossByK[k - 1] = Loss[L, k], its length is K_max): scanning
 * k = 1 .. K_max - 1, if Loss[L, k] = 0 then K = k and stop; otherwise whenever
 * (Loss[L, k] - Loss[L, k + 1]) / Loss[L, k] > 0.05 set K = k + 1, the last such k winning. K = 1 when
 * no step counts.
 */
export function elbowK(lossByK: readonly number[], threshold = ELBOW_THRESHOLD): number {
  if (lossByK.length === 0) throw new RangeError('the elbow rule needs Loss[L, k] for at least k = 1');
  let k = 1;
  for (let i = 1; i < lossByK.length; i++) {
    const here = lossByK[i - 1];
    if (here === 0) return i;
    if ((here - lossByK[i]) / here > threshold) k = i + 1;
  }
  return k;
}

/** Segments a sequence (the CKA row sums, or any values) with `--segments K` or the elbow rule. */
export function segmentSequence(values: ArrayLike<number>, options: SegmentOptions = {}): Segmentation {
  checkSequence(values);
  const len = values.length;
  const maxSegments = options.maxSegments ?? DEFAULT_MAX_SEGMENTS;
  if (!Number.isInteger(maxSegments) || maxSegments < 1) {
    throw new RangeError(`maxSegments (K_max) must be an integer >= 1, got ${maxSegments}`);
  }
  const fixed = options.segments;
  if (fixed !== undefined) checkSegments(fixed, len);
  const elbowMax = Math.min(maxSegments, len);
  const table = fisherTable(values, Math.max(elbowMax, fixed ?? 0));
  const lossByK = Array.from({ length: table.maxK }, (_, i) => table.loss[i][len]);
  const k = fixed ?? elbowK(lossByK.slice(0, elbowMax));
  return {
    rowSums: Array.from(values),
    lossByK,
    k,
    kRule: fixed === undefined ? 'elbow' : 'fixed',
    segments: backtrack(table, k),
  };
}

/** Checks a CKA matrix, takes its row sums and segments them. */
export function segmentCka(
  matrix: readonly ArrayLike<number>[],
  options: SegmentOptions & CkaCheckOptions = {},
): Segmentation {
  validateCkaMatrix(matrix, options);
  return segmentSequence(rowSums(matrix), options);
}

/** Each row's sum, diagonal included, accumulated in f64 in column order. */
export function rowSums(matrix: readonly ArrayLike<number>[]): number[] {
  return matrix.map((row) => {
    let s = 0;
    for (let j = 0; j < row.length; j++) s += row[j];
    return s;
  });
}

/** Throws unless the matrix is square, finite, symmetric and has a unit diagonal (within tolerance). */
export function validateCkaMatrix(matrix: readonly ArrayLike<number>[], options: CkaCheckOptions = {}): void {
  const tol = options.tolerance ?? 1e-6;
  const len = matrix.length;
  const unit = (i: number) =>
    options.names?.[i] === undefined ? `unit ${i}` : `unit ${i} (${options.names[i]})`;
  if (len === 0) throw new RangeError('CKA matrix is empty');
  if (options.names !== undefined && options.names.length !== len) {
    throw new RangeError(`CKA matrix has ${len} rows but ${options.names.length} unit names were given`);
  }
  for (let i = 0; i < len; i++) {
    if (matrix[i].length !== len) {
      throw new RangeError(`CKA matrix row ${i} has ${matrix[i].length} entries, expected ${len} (square)`);
    }
  }
  for (let i = 0; i < len; i++) {
    for (let j = 0; j < len; j++) {
      const v = matrix[i][j];
      if (!Number.isFinite(v))
        throw new RangeError(`CKA[${i}][${j}] between ${unit(i)} and ${unit(j)} is ${v}`);
    }
  }
  for (let i = 0; i < len; i++) {
    const d = matrix[i][i];
    if (Math.abs(d - 1) > tol) throw new RangeError(`CKA diagonal of ${unit(i)} is ${d}, expected 1`);
    for (let j = i + 1; j < len; j++) {
      const a = matrix[i][j];
      const b = matrix[j][i];
      if (Math.abs(a - b) > tol) {
        throw new RangeError(
          `CKA matrix is not symmetric: [${i}][${j}] = ${a} but [${j}][${i}] = ${b} (${unit(i)}, ${unit(j)})`,
        );
      }
    }
  }
}

/** `segments` K: an integer from 1 to the number of units. */
function checkSegments(k: number, len: number): void {
  if (!Number.isInteger(k) || k < 1) {
    throw new OptionError('segments', (n) => `${n('segments')} must be an integer >= 1, got ${k}`);
  }
  if (k > len)
    throw new OptionError('segments', (n) => `${n('segments')} is ${k}, more than the ${len} units to split`);
}

function checkK(k: number, len: number, what: string): void {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`${what} must be an integer >= 1, got ${k}`);
  if (k > len) throw new RangeError(`${what} is ${k}, more than the ${len} units to split`);
}
