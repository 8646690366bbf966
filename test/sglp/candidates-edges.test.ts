// Edges of src/sglp/candidates.ts that mutation testing (docs/mutation.md) found untested: binomial's input
// checks, unsorted unit lists, protected units merged in order, the greedy search with nothing to remove,
// scores that are not finite numbers.

import { describe, expect, it } from 'vitest';
import { binomial, exhaustiveSearch, greedySearch, keepSets } from '../../src/sglp/candidates.js';

describe('binomial', () => {
  it('rejects non-integers and negative n', () => {
    expect(() => binomial(1.5, 1)).toThrow('binomial(1.5, 1) needs integers with n >= 0');
    expect(() => binomial(3, 1.5)).toThrow(/needs integers/);
    expect(() => binomial(-1, 0)).toThrow(/needs integers/);
    expect(binomial(0, 0)).toBe(1n);
  });
});

describe('keepSets', () => {
  it('sorts the units first: the same keep-sets, in lexicographic order, whatever order they come in', () => {
    const want = [
      [1, 2],
      [1, 3],
      [2, 3],
      [1, 10],
      [2, 10],
      [3, 10],
    ].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    expect([...keepSets([10, 3, 1, 2], [], 2)]).toEqual(want);
  });

  it('merges protected units into each keep-set in order', () => {
    expect([...keepSets([4, 1, 3, 2], [3], 2)]).toEqual([
      [1, 3],
      [2, 3],
      [3, 4],
    ]);
    expect([...keepSets([5, 6, 7, 8], [5, 8], 3)]).toEqual([
      [5, 6, 8],
      [5, 7, 8],
    ]);
  });

  it('rejects units that are not integers, and a unit listed twice in any order', () => {
    expect(() => [...keepSets([1.5, 2], [], 1)]).toThrow('segment unit 1.5 is not an integer');
    expect(() => [...keepSets([2, 1, 2], [], 1)]).toThrow('segment lists unit 2 twice');
  });
});

describe('searches', () => {
  it('greedy with nothing to remove scores the whole segment once, as a greedy search', async () => {
    const r = await greedySearch([3, 1, 2], [], 3, async () => 7, 'min');
    expect(r.search).toBe('greedy');
    expect(r.candidates).toEqual([{ units: [1, 2, 3], score: 7 }]);
    expect(r.best).toEqual({ units: [1, 2, 3], score: 7 });
  });

  it('a score that is not a finite number is an error naming the keep-set', async () => {
    await expect(
      exhaustiveSearch([1, 2], [], 1, async (s) => (s[0] === 2 ? Number.NaN : 1), 'min'),
    ).rejects.toThrow('score of keep-set [2] is NaN, expected a finite number');
    await expect(greedySearch([1, 2, 3], [], 2, async () => Number.POSITIVE_INFINITY, 'max')).rejects.toThrow(
      'score of keep-set [2, 3] is Infinity, expected a finite number',
    );
  });
});
