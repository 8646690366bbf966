import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/io/prng.js';
import { apportion, KeepPlanError, maxRemovable, planKeep } from '../../src/sglp/keep-plan.js';
import type { Segment } from '../../src/sglp/segment.js';

/** Contiguous segments of the given sizes from unit 0. */
function segmentsOf(sizes: readonly number[]): Segment[] {
  let start = 0;
  return sizes.map((s) => {
    const seg: Segment = [start, start + s];
    start += s;
    return seg;
  });
}

/** ResNet-56: the authors' segmentation of its 28 units, protected stem and stage-opening blocks. */
const resnet56 = segmentsOf([3, 7, 14, 2, 2]);
const resnet56Protected = [0, 10, 19];

describe('keep plan from --remove', () => {
  it('reproduces the published ResNet-56 plan 3, 3, 4, 2, 2 for R = 14', () => {
    // Eligible: sizes 7 and 14 (weights 5, 12; W = 17). Quotas 70/17 = 4.12 and 168/17 = 9.88: floors 4 + 9,
    // the one unit left goes to the larger remainder (segment 2). Removed 4 and 10: keeps 3 and 4.
    const plan = planKeep(resnet56, resnet56Protected, { remove: 14 });
    expect(plan.keep).toEqual([3, 3, 4, 2, 2]);
    expect(plan.removed).toEqual([0, 4, 10, 0, 0]);
    expect(plan.remove).toBe(14);
    expect(plan.secondPass).toBe(false);
    expect(plan.source).toBe('remove');
  });

  it('removes nothing for R = 0 and refuses a bad R', () => {
    expect(planKeep(resnet56, resnet56Protected, { remove: 0 }).keep).toEqual([3, 7, 14, 2, 2]);
    expect(() => planKeep(resnet56, resnet56Protected, { remove: -1 })).toThrow(
      /^target\.remove must be an integer >= 0/,
    );
    expect(() => planKeep(resnet56, resnet56Protected, { remove: 2.5 })).toThrow('got 2.5');
  });

  it('re-apportions what exceeds a segment capacity over the segments with room', () => {
    // Stem segment of 2; A: 10 units, 7 protected (weight 8, capacity 3); B: 6 units (weight 4, capacity 4).
    // R = 6: shares 4 and 2; A takes 3, its extra 1 goes to B.
    const segs = segmentsOf([2, 10, 6]);
    const prot = [0, 2, 3, 4, 5, 6, 7, 8];
    const plan = planKeep(segs, prot, { remove: 6 });
    expect(plan.removed).toEqual([0, 3, 3]);
    expect(plan.keep).toEqual([2, 7, 3]);
  });

  it('re-apportions over several rounds with largest remainders, ties to the earlier segment', () => {
    // Stem 1; A: 12 units, 10 protected (w 10, cap 2); B: 5 (w 3, cap 3); C: 7 (w 5, cap 5). R = 9:
    // round 1 quotas 5, 1.5, 2.5 -> 5, 2, 2 (tie of .5 to B); A takes 2, overflow 3;
    // round 2 over B (room 1), C (room 3), W = 8: 3/8 -> 0.375, 15/8 -> 1.875 -> 1, 2. Total 2, 3, 4.
    const segs = segmentsOf([1, 12, 5, 7]);
    const prot = [0, ...Array.from({ length: 10 }, (_, i) => 1 + i)];
    expect(planKeep(segs, prot, { remove: 9 }).removed).toEqual([0, 2, 3, 4]);
    expect(apportion(9, [0, 10, 3, 5], [0, 2, 3, 5])).toEqual({ given: [0, 2, 3, 4], left: 0 });
    expect(apportion(1, [2, 2], [5, 5])).toEqual({ given: [1, 0], left: 0 });
    expect(apportion(10, [1, 1], [3, 3])).toEqual({ given: [3, 3], left: 4 });
  });

  it('uses the second pass, down to one unit per segment, when the first cannot meet R', () => {
    // Stem 3; A: 4 (pass 1 capacity 2); B, C: 2 units (no pass-1 room). R = 4: pass 1 removes 2 from A;
    // pass 2 weights 3, 1, 1 with room 1, 1, 1 for the 2 left: quotas 1.2, 0.4, 0.4 -> A 1, B 1 (tie to B).
    const segs = segmentsOf([3, 4, 2, 2]);
    const plan = planKeep(segs, [0], { remove: 4 });
    expect(plan.secondPass).toBe(true);
    expect(plan.removed).toEqual([0, 3, 1, 0]);
    expect(plan.keep).toEqual([3, 1, 1, 2]);
    expect(maxRemovable(segs, [0])).toBe(5);
    expect(planKeep(segs, [0], { remove: 5 }).keep).toEqual([3, 1, 1, 1]);
  });

  it('takes ResNet-56 to its limit and states the largest possible R beyond it', () => {
    expect(maxRemovable(resnet56, resnet56Protected)).toBe(20);
    const plan = planKeep(resnet56, resnet56Protected, { remove: 20 });
    expect(plan.keep).toEqual([3, 1, 2, 1, 1]);
    expect(plan.secondPass).toBe(true);
    let error: unknown;
    try {
      planKeep(resnet56, resnet56Protected, { remove: 21 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KeepPlanError);
    expect((error as KeepPlanError).maxRemove).toBe(20);
    expect((error as Error).message).toContain('cannot remove 21 units: at most 20 can be removed');
  });

  it('prunes every segment when there is no stem (decoder LMs)', () => {
    const segs = segmentsOf([4, 4]);
    expect(planKeep(segs, [], { remove: 4 }, { stem: null }).keep).toEqual([2, 2]);
    // With the default stem (unit 0) the first segment is off limits.
    expect(planKeep(segs, [], { remove: 2 }).keep).toEqual([4, 2]);
    expect(() => planKeep(segs, [], { remove: 7 }, { stem: null })).toThrow(
      'cannot remove 7 units: at most 6 can be removed (every segment keeps its protected units and at least one unit)',
    );
  });

  it('keeps the invariants for random segmentations and every feasible R', () => {
    for (let seed = 0; seed < 200; seed++) {
      const rng = new Rng(seed);
      const sizes = Array.from({ length: 1 + rng.int(6) }, () => 1 + rng.int(9));
      const segs = segmentsOf(sizes);
      const units = segs[segs.length - 1][1];
      const prot = [0, ...Array.from({ length: rng.int(4) }, () => rng.int(units))];
      const protCount = segs.map(([a, b]) => new Set(prot.filter((u) => u >= a && u < b)).size);
      const firstCap = sizes.reduce(
        (s, n, i) => s + (i > 0 && n > 2 ? Math.min(n - 2, n - protCount[i]) : 0),
        0,
      );
      const max = maxRemovable(segs, prot);
      for (let r = 0; r <= max; r++) {
        const plan = planKeep(segs, prot, { remove: r });
        expect(plan.removed.reduce((a, b) => a + b, 0)).toBe(r);
        expect(plan.removed[0]).toBe(0);
        plan.keep.forEach((k, i) => {
          expect(k).toBeGreaterThanOrEqual(
            Math.max(protCount[i], i === 0 ? sizes[0] : Math.min(1, sizes[i])),
          );
          if (r <= firstCap) expect(k).toBeGreaterThanOrEqual(Math.min(2, sizes[i]));
          expect(k + plan.removed[i]).toBe(sizes[i]);
        });
        expect(plan.secondPass).toBe(r > firstCap);
      }
      expect(() => planKeep(segs, prot, { remove: max + 1 })).toThrow(`at most ${max} can be removed`);
    }
  });
});

describe('explicit --keep-per-segment', () => {
  it('accepts counts between the protected units and the size', () => {
    const plan = planKeep(resnet56, resnet56Protected, { keepPerSegment: [3, 3, 4, 2, 2] });
    expect(plan).toEqual({
      source: 'explicit',
      keep: [3, 3, 4, 2, 2],
      removed: [0, 4, 10, 0, 0],
      remove: 14,
      secondPass: false,
    });
    expect(planKeep(resnet56, resnet56Protected, { keepPerSegment: [1, 0, 2, 0, 2] }).remove).toBe(23);
  });

  it('names the segment whose count is out of range', () => {
    expect(() => planKeep(resnet56, resnet56Protected, { keepPerSegment: [3, 3, 4, 2] })).toThrow(
      /^target\.keepPerSegment has 4 counts but there are 5 segments/,
    );
    expect(() => planKeep(resnet56, resnet56Protected, { keepPerSegment: [3, 3, 1, 2, 2] })).toThrow(
      'segment 2 (units 10..23, 14 units, 2 protected) keeps 1, expected 2 to 14',
    );
    expect(() => planKeep(resnet56, resnet56Protected, { keepPerSegment: [3, 8, 4, 2, 2] })).toThrow(
      'segment 1 (units 3..9, 7 units, 0 protected) keeps 8, expected 0 to 7',
    );
    expect(() => planKeep(resnet56, resnet56Protected, { keepPerSegment: [0, 3, 4, 2, 2] })).toThrow(
      'segment 0 (units 0..2, 3 units, 1 protected) keeps 0, expected 1 to 3',
    );
    expect(() => planKeep(resnet56, resnet56Protected, { keepPerSegment: [3, 2.5, 4, 2, 2] })).toThrow(
      'keeps 2.5, not an integer',
    );
  });
});

describe('segment and unit checks', () => {
  it('refuses segments that do not tile the units and protected units outside them', () => {
    expect(() => planKeep([], [], { remove: 0 })).toThrow('there are no segments');
    expect(() =>
      planKeep(
        [
          [0, 2],
          [3, 5],
        ],
        [],
        { remove: 0 },
      ),
    ).toThrow('segment 1 is [3, 5), expected');
    expect(() => planKeep([[0, 0]], [], { remove: 0 })).toThrow('segment 0 is [0, 0)');
    expect(() => planKeep([[0, 4]], [4], { remove: 0 })).toThrow(
      'protected unit 4 is not one of the 4 units',
    );
    expect(() => planKeep([[0, 4]], [], { remove: 0 }, { stem: 7 })).toThrow('stem unit 7');
  });
});
