// Edges of src/sglp/segment.ts that mutation testing (docs/mutation.md) found untested: precision of the
// centred prefix sums, error messages, the elbow rule's stop at a zero loss, K_max = 1, the tolerance
// boundary of the CKA matrix checks.

import { describe, expect, it } from 'vitest';
import {
  backtrack,
  elbowK,
  fisherTable,
  segmentCost,
  segmentSequence,
  validateCkaMatrix,
} from '../../src/sglp/segment.js';

/** Sum of squared deviations from the mean, two-pass, in f64. */
function directCost(x: readonly number[], a: number, b: number): number {
  let m = 0;
  for (let i = a; i < b; i++) m += x[i];
  m /= b - a;
  let s = 0;
  for (let i = a; i < b; i++) s += (x[i] - m) ** 2;
  return s;
}

describe('segmentCost', () => {
  it('stays exact for values far from zero (the prefix sums are centred on the overall mean)', () => {
    // Row sums of a 28-unit CKA matrix are ~10-28; this exaggerates the offset to make cancellation visible:
    // without centring, s2 − s²/n at 1e8 loses everything below ~1 (f64: 16 digits of 1e16).
    const x = [0, 1, 0, 1, 5, 5, 6, 6, 2.5, 3].map((v) => 1e8 + v);
    const cost = segmentCost(x);
    for (const [a, b] of [
      [0, 10],
      [0, 4],
      [4, 8],
      [3, 9],
    ]) {
      expect(Math.abs(cost(a, b) - directCost(x, a, b)), `[${a}, ${b})`).toBeLessThan(1e-6);
    }
  });
});

describe('errors name what is wrong', () => {
  it('fisherTable and backtrack name the number of segments; backtrack names the table size', () => {
    expect(() => fisherTable([1, 2, 3], 0)).toThrow(/the number of segments/);
    const table = fisherTable([1, 2, 3, 4], 2);
    expect(() => backtrack(table, 0)).toThrow(/the number of segments/);
    expect(() => backtrack(table, 3)).toThrow('the table holds up to 2 segments, asked for 3');
    expect(backtrack(table, 2)).toHaveLength(2);
  });

  it('elbowK needs at least Loss[L, 1]', () => {
    expect(() => elbowK([])).toThrow('the elbow rule needs Loss[L, k] for at least k = 1');
  });
});

describe('elbowK', () => {
  it('stops at the first zero loss (SGLP.md: "if Loss[L, k] = 0 then K = k and stop")', () => {
    // A later drop must not count once the loss reached 0.
    expect(elbowK([0, 5, 1])).toBe(1);
    expect(elbowK([4, 0, 5, 1])).toBe(2);
  });
});

describe('segmentSequence', () => {
  it('accepts K_max = 1 (one segment)', () => {
    const s = segmentSequence([1, 2, 10, 11], { maxSegments: 1 });
    expect(s.k).toBe(1);
    expect(s.segments).toEqual([[0, 4]]);
  });
});

describe('validateCkaMatrix', () => {
  it('accepts deviations of exactly the tolerance, rejects larger ones', () => {
    // 0.5 and 0.25/0.75 are exact in binary: |d − 1| and |a − b| equal the tolerance exactly.
    expect(() =>
      validateCkaMatrix(
        [
          [1.5, 0.25],
          [0.75, 1],
        ],
        { tolerance: 0.5 },
      ),
    ).not.toThrow();
    expect(() => validateCkaMatrix([[1.5]], { tolerance: 0.25 })).toThrow(/CKA diagonal of unit 0 is 1.5/);
    expect(() =>
      validateCkaMatrix(
        [
          [1, 0.25],
          [0.875, 1],
        ],
        { tolerance: 0.5 },
      ),
    ).toThrow(/not symmetric/);
  });
});
