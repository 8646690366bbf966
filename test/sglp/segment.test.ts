import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/io/prng.js';
import {
  backtrack,
  elbowK,
  fisherTable,
  rowSums,
  type Segment,
  segmentCka,
  segmentSequence,
  validateCkaMatrix,
} from '../../src/sglp/segment.js';

/** Sum of squared deviations from the mean, two-pass, straight from the definition. */
function directCost(x: readonly number[], start: number, end: number): number {
  let mean = 0;
  for (let i = start; i < end; i++) mean += x[i];
  mean /= end - start;
  let s = 0;
  for (let i = start; i < end; i++) s += (x[i] - mean) ** 2;
  return s;
}

function partitionLoss(x: readonly number[], segments: readonly Segment[]): number {
  return segments.reduce((s, [a, b]) => s + directCost(x, a, b), 0);
}

/** Every partition of [0, len) into k non-empty contiguous segments. */
function* partitions(len: number, k: number, start = 0): Generator<Segment[]> {
  if (k === 1) {
    yield [[start, len]];
    return;
  }
  for (let end = start + 1; end <= len - (k - 1); end++) {
    for (const rest of partitions(len, k - 1, end)) yield [[start, end], ...rest];
  }
}

function bruteForce(x: readonly number[], k: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (const p of partitions(x.length, k)) best = Math.min(best, partitionLoss(x, p));
  return best;
}

function isPartition(segments: readonly Segment[], len: number, k: number): boolean {
  return (
    segments.length === k &&
    segments[0][0] === 0 &&
    segments[k - 1][1] === len &&
    segments.every(([a, b], i) => b > a && (i === 0 || a === segments[i - 1][1]))
  );
}

describe('Fisher optimal segmentation against brute force', () => {
  it('matches the optimum over all partitions for random sequences, and the backtracked split attains it', () => {
    let checked = 0;
    for (let seed = 0; seed < 150; seed++) {
      const rng = new Rng(seed);
      const len = 1 + rng.int(14);
      // Alternate continuous values, CKA-like row sums and small integers (the last make exact ties).
      const kind = seed % 3;
      const x = Array.from({ length: len }, (_, i) =>
        kind === 0 ? rng.float() * 10 - 5 : kind === 1 ? 1 + i * 0.3 + rng.float() * 2 : rng.int(4),
      );
      const maxK = Math.min(6, len);
      const table = fisherTable(x, maxK);
      for (let k = 1; k <= maxK; k++) {
        const brute = bruteForce(x, k);
        const dp = table.loss[k - 1][len];
        const segments = backtrack(table, k);
        expect(Math.abs(dp - brute)).toBeLessThanOrEqual(1e-9);
        expect(isPartition(segments, len, k)).toBe(true);
        expect(Math.abs(partitionLoss(x, segments) - brute)).toBeLessThanOrEqual(1e-9);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(500);
  });

  it('also fills Loss[n, k] for every prefix n, not only the whole sequence', () => {
    const rng = new Rng(99);
    const x = Array.from({ length: 12 }, () => rng.float());
    const table = fisherTable(x, 6);
    for (let k = 1; k <= 6; k++) {
      for (let n = 0; n <= 12; n++) {
        const v = table.loss[k - 1][n];
        if (n < k) expect(v).toBe(Number.POSITIVE_INFINITY);
        else expect(Math.abs(v - bruteForce(x.slice(0, n), k))).toBeLessThanOrEqual(1e-9);
      }
    }
  });
});

describe('hand-checked segmentations', () => {
  it('splits two plateaus at the step', () => {
    const s = segmentSequence([0, 0, 0, 10, 10, 10], { segments: 2 });
    expect(s.segments).toEqual([
      [0, 3],
      [3, 6],
    ]);
    expect(s.lossByK[1]).toBe(0);
    expect(s.kRule).toBe('fixed');
    expect(s.k).toBe(2);
  });

  it('finds three plateaus and the loss of one segment', () => {
    const s = segmentSequence([1, 1, 5, 5, 5, 9], { segments: 3 });
    expect(s.segments).toEqual([
      [0, 2],
      [2, 5],
      [5, 6],
    ]);
    // One segment: sum of squares minus (sum)^2 / n = 158 - 26^2 / 6.
    expect(s.lossByK[0]).toBeCloseTo(directCost([1, 1, 5, 5, 5, 9], 0, 6), 12);
    expect(s.lossByK[0]).toBeCloseTo(1 + 1 + 25 + 25 + 25 + 81 - 26 ** 2 / 6, 12);
  });

  it('breaks exact ties at the earliest start of the last segment', () => {
    // All splits of a constant sequence cost 0: the last segment is as long as possible.
    expect(segmentSequence([2, 2, 2, 2], { segments: 2 }).segments).toEqual([
      [0, 1],
      [1, 4],
    ]);
    expect(segmentSequence([2, 2, 2, 2], { segments: 3 }).segments).toEqual([
      [0, 1],
      [1, 2],
      [2, 4],
    ]);
    // [0, 1, 0]: splitting after 0 or after 1 both cost 0.5; the earlier split wins.
    expect(segmentSequence([0, 1, 0], { segments: 2 }).segments).toEqual([
      [0, 1],
      [1, 3],
    ]);
  });

  it('puts every unit in its own segment when K = L', () => {
    const s = segmentSequence([3, 1, 2], { segments: 3 });
    expect(s.segments).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
    expect(s.lossByK).toEqual([2, 0.5, 0]);
  });

  it('gives exactly zero cost to constant runs of values that are not exact in binary', () => {
    const x = [0.1, 0.1, 0.1, 0.7, 0.7, 0.7, 0.7];
    const s = segmentSequence(x);
    expect(s.lossByK[1]).toBe(0);
    expect(s.k).toBe(2);
  });
});

describe('the elbow rule', () => {
  it('takes K = k + 1 for the last step that cuts the loss by more than 5%', () => {
    // 50% (K=2), 2% (no), 59% (K=4), 2.5% (no), 0.5% (no).
    expect(elbowK([100, 50, 49, 20, 19.5, 19.4])).toBe(4);
    // Exactly 5% does not count.
    expect(elbowK([100, 95, 90.25])).toBe(1);
    expect(elbowK([100, 94.9])).toBe(2);
    expect(elbowK([7])).toBe(1);
  });

  it('stops at the first k whose loss is zero', () => {
    expect(elbowK([10, 0, 0, 0, 0, 0])).toBe(2);
    expect(elbowK([0, 0, 0])).toBe(1);
    // The scan stops at the first zero and never looks at later entries.
    expect(elbowK([10, 0, 5])).toBe(2);
    const s = segmentSequence([1, 1, 1, 5, 5, 5]);
    expect(s.kRule).toBe('elbow');
    expect(s.k).toBe(2);
    expect(s.segments).toEqual([
      [0, 3],
      [3, 6],
    ]);
    expect(s.lossByK).toHaveLength(6);
  });

  it('lands on K_max when every step cuts the loss by more than 5%', () => {
    const x = Array.from({ length: 20 }, (_, i) => i * i);
    const s = segmentSequence(x);
    for (let k = 1; k < 6; k++)
      expect((s.lossByK[k - 1] - s.lossByK[k]) / s.lossByK[k - 1]).toBeGreaterThan(0.05);
    expect(s.k).toBe(6);
    expect(s.segments).toHaveLength(6);
    expect(segmentSequence(x, { maxSegments: 4 }).k).toBe(4);
  });

  it('caps K_max at L and fills the table to a larger --segments', () => {
    const short = segmentSequence([1, 2, 4]);
    expect(short.lossByK).toHaveLength(3);
    expect(short.k).toBe(3);
    const fixed = segmentSequence(
      Array.from({ length: 10 }, (_, i) => i),
      { segments: 8 },
    );
    expect(fixed.lossByK).toHaveLength(8);
    expect(fixed.segments).toHaveLength(8);
  });
});

describe('input checks', () => {
  it('refuses bad K and bad sequences with clear messages', () => {
    expect(() => segmentSequence([1, 2, 3], { segments: 4 })).toThrow(
      /^segments is 4, more than the 3 units/,
    );
    expect(() => segmentSequence([1, 2, 3], { segments: 0 })).toThrow(
      /^segments must be an integer >= 1, got 0/,
    );
    expect(() => segmentSequence([1, 2, 3], { segments: 1.5 })).toThrow('integer >= 1, got 1.5');
    expect(() => segmentSequence([])).toThrow('cannot segment an empty sequence');
    expect(() => segmentSequence([1, Number.NaN, 3])).toThrow('sequence value at index 1 is NaN');
    expect(() => segmentSequence([1, 2, Number.POSITIVE_INFINITY])).toThrow('index 2 is Infinity');
    expect(() => segmentSequence([1, 2], { maxSegments: 0 })).toThrow('K_max');
  });
});

describe('CKA matrices', () => {
  const m = [
    [1, 0.9, 0.2],
    [0.9, 1, 0.4],
    [0.2, 0.4, 1],
  ];

  it('sums rows in f64, diagonal included', () => {
    const sums = rowSums(m);
    expect(sums[0]).toBe(1 + 0.9 + 0.2);
    expect(sums[1]).toBe(1 + 0.9 + 0.4);
    expect(sums[2]).toBe(1 + 0.2 + 0.4);
    expect(rowSums([Float32Array.of(1, 0.1)])[0]).toBe(1 + Math.fround(0.1));
  });

  it('segments a checked matrix by its row sums', () => {
    const s = segmentCka(m, { segments: 2 });
    expect(s.rowSums).toEqual(rowSums(m));
    expect(s.segments).toEqual([
      [0, 2],
      [2, 3],
    ]);
  });

  it('accepts a valid matrix and names what is wrong with a bad one', () => {
    expect(() => validateCkaMatrix(m)).not.toThrow();
    expect(() => validateCkaMatrix([])).toThrow('CKA matrix is empty');
    expect(() => validateCkaMatrix([[1, 0.5], [0.5]])).toThrow('row 1 has 1 entries, expected 2');
    expect(() =>
      validateCkaMatrix(
        [
          [1, 0.5],
          [0.6, 1],
        ],
        { names: ['conv1', 'layer1.0'] },
      ),
    ).toThrow('not symmetric: [0][1] = 0.5 but [1][0] = 0.6 (unit 0 (conv1), unit 1 (layer1.0))');
    expect(() =>
      validateCkaMatrix([
        [1, 0.5],
        [0.5, 0.98],
      ]),
    ).toThrow('CKA diagonal of unit 1 is 0.98, expected 1');
    expect(() =>
      validateCkaMatrix(
        [
          [1, Number.NaN],
          [Number.NaN, 1],
        ],
        { names: ['a', 'b'] },
      ),
    ).toThrow('CKA[0][1] between unit 0 (a) and unit 1 (b) is NaN');
    expect(() =>
      validateCkaMatrix([
        [1, 0.5 + 1e-9],
        [0.5, 1 - 1e-9],
      ]),
    ).not.toThrow();
    expect(() => validateCkaMatrix([[1]], { names: ['a', 'b'] })).toThrow('1 rows but 2 unit names');
  });
});
