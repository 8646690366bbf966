// Edges of src/sglp/keep-plan.ts that mutation testing (docs/mutation.md) found untested: the error's
// name and messages, the stem option of maxRemovable, which segment holds the stem at a boundary, the
// stem's segment left out of the first pass, and the checks of segments, protected units and the stem.

import { describe, expect, it } from 'vitest';
import { apportion, KeepPlanError, maxRemovable, planKeep } from '../../src/sglp/keep-plan.js';
import type { Segment } from '../../src/sglp/segment.js';

const SEGS: Segment[] = [
  [0, 4],
  [4, 8],
];

describe('planKeep / maxRemovable edges', () => {
  it('KeepPlanError is named, and says whether a stem segment is kept whole', () => {
    const withStem = (() => {
      try {
        planKeep(SEGS, [], { remove: 7 });
      } catch (e) {
        return e as KeepPlanError;
      }
    })();
    expect(withStem).toBeInstanceOf(KeepPlanError);
    expect(withStem?.name).toBe('KeepPlanError');
    expect(withStem?.message).toMatch(/the stem's segment keeps all its units; every other segment keeps/);
    expect(withStem?.maxRemove).toBe(3);
    expect(() => planKeep(SEGS, [], { remove: 7 }, { stem: null })).toThrow(
      /at most 6 can be removed \(every segment keeps its protected units/,
    );
  });

  it('maxRemovable takes the stem from the options (default unit 0; null: none)', () => {
    expect(maxRemovable(SEGS, [])).toBe(3);
    expect(maxRemovable(SEGS, [], { stem: 5 })).toBe(3);
    expect(maxRemovable(SEGS, [], { stem: null })).toBe(6);
    // Unit 4 starts the second segment: a stem there keeps that one whole, not the first.
    expect(planKeep(SEGS, [], { remove: 3 }, { stem: 4 }).keep).toEqual([1, 4]);
    expect(planKeep(SEGS, [], { remove: 3 }, { stem: 3 }).keep).toEqual([4, 1]);
  });

  it("the first pass never takes from the stem's segment", () => {
    // Both segments have 4 units; the stem's gives nothing, the other gives both.
    expect(planKeep(SEGS, [], { remove: 2 }).keep).toEqual([4, 2]);
  });

  it('checks segments, protected units and the stem, naming each', () => {
    expect(() =>
      planKeep(
        [
          [0, 2],
          [3, 5],
        ],
        [],
        { remove: 1 },
      ),
    ).toThrow('segment 1 is [3, 5), expected non-empty contiguous segments starting at unit 2');
    expect(() => planKeep([[0.5, 2]], [], { remove: 1 })).toThrow(/segment 0 is \[0.5, 2\)/);
    expect(() => planKeep([[0, 2.5]], [], { remove: 1 })).toThrow(/segment 0 is \[0, 2.5\)/);
    expect(() => planKeep(SEGS, [8], { remove: 1 })).toThrow('protected unit 8 is not one of the 8 units');
    expect(() => planKeep(SEGS, [-1], { remove: 1 })).toThrow(/protected unit -1 is not one/);
    expect(() => planKeep(SEGS, [1.5], { remove: 1 })).toThrow(/protected unit 1.5 is not one/);
    expect(() => planKeep(SEGS, [], { remove: 1 }, { stem: 8 })).toThrow(
      'stem unit 8 is not one of the 8 units',
    );
    expect(() => planKeep(SEGS, [], { remove: 1 }, { stem: -1 })).toThrow(/stem unit -1/);
    expect(() => planKeep(SEGS, [], { remove: 1 }, { stem: 0.5 })).toThrow(/stem unit 0.5/);
    expect(planKeep(SEGS, [7], { remove: 1 }, { stem: 7 }).keep).toEqual([3, 4]);
  });
});

describe('apportion edges', () => {
  it('gives nothing to weight-0 entries, and leaves what no entry can take', () => {
    expect(apportion(3, [0, 0], [5, 5])).toEqual({ given: [0, 0], left: 3 });
    expect(apportion(3, [0, 2], [5, 1])).toEqual({ given: [0, 1], left: 2 });
  });

  it('breaks equal remainders toward the lower index', () => {
    expect(apportion(1, [1, 1], [5, 5]).given).toEqual([1, 0]);
    expect(apportion(2, [1, 1, 1], [5, 5, 5]).given).toEqual([1, 1, 0]);
  });
});
