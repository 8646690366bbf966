import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/io/prng.js';
import {
  binomial,
  exhaustiveSearch,
  greedySearch,
  keepSets,
  planSearch,
  type Scorer,
  searchSegment,
} from '../../src/sglp/candidates.js';

const range = (start: number, end: number) => Array.from({ length: end - start }, (_, i) => start + i);

/** A scorer that adds a per-unit weight over the keep-set and logs every call. */
function additive(weight: (u: number) => number): Scorer & { calls: number[][] } {
  const calls: number[][] = [];
  const f = async (set: readonly number[]) => {
    calls.push([...set]);
    return set.reduce((s, u) => s + weight(u), 0);
  };
  return Object.assign(f, { calls });
}

/** Every subset of `units` of size k holding `fixed`, by brute force over bit masks. */
function bruteSets(units: number[], fixed: Set<number>, k: number): string[] {
  const out: string[] = [];
  for (let mask = 0; mask < 1 << units.length; mask++) {
    const set = units.filter((_, i) => mask & (1 << i));
    if (set.length === k && [...fixed].every((u) => !units.includes(u) || set.includes(u)))
      out.push(set.join(','));
  }
  return out.sort();
}

describe('binomial counts', () => {
  it('matches Pascal’s triangle exactly, beyond 2^53', () => {
    let row = [1n];
    for (let n = 0; n <= 70; n++) {
      for (let k = 0; k <= n; k++) expect(binomial(n, k)).toBe(row[k]);
      row = [1n, ...row.slice(1).map((v, i) => v + row[i]), 1n];
    }
    expect(binomial(5, 7)).toBe(0n);
    expect(binomial(5, -1)).toBe(0n);
    expect(binomial(60, 30)).toBe(118264581564861424n);
    expect(() => binomial(-1, 0)).toThrow('binomial(-1, 0)');
  });
});

describe('candidate enumeration', () => {
  it('yields C(free, keep − protected) distinct sorted keep-sets in lexicographic order, protected always in', () => {
    for (let seed = 0; seed < 60; seed++) {
      const rng = new Rng(seed);
      const start = rng.int(20);
      const units = range(start, start + 1 + rng.int(10));
      const prot = units.filter(() => rng.float() < 0.25);
      // The protected set may name units of other segments too.
      const protAll = [...prot, start + 50];
      const keep = prot.length + rng.int(units.length - prot.length + 1);
      const sets = [...keepSets(units, protAll, keep)];
      const plan = planSearch(units, protAll, keep);
      expect(BigInt(sets.length)).toBe(plan.count);
      expect(plan.count).toBe(binomial(units.length - prot.length, keep - prot.length));
      const keys = sets.map((s) => s.join(','));
      expect(new Set(keys).size).toBe(sets.length);
      expect(keys.slice().sort()).toEqual(bruteSets(units, new Set(protAll), keep));
      for (const s of sets) {
        expect(s).toHaveLength(keep);
        expect(s).toEqual([...s].sort((a, b) => a - b));
        for (const p of prot) expect(s).toContain(p);
      }
      for (let i = 1; i < sets.length; i++) expect(lexLess(sets[i - 1], sets[i])).toBe(true);
    }
  });

  it('is lazy: the first keep-sets of a huge search come without enumerating the rest', () => {
    const it = keepSets(range(0, 60), [0], 30);
    expect(it.next().value).toEqual(range(0, 30));
    expect(it.next().value).toEqual([...range(0, 29), 30]);
    expect(planSearch(range(0, 60), [0], 30)).toEqual({ count: binomial(59, 29), search: 'greedy' });
  });

  it('chooses exhaustive search up to 2,000 candidates, greedy above', () => {
    // ResNet-56 with the published plan: segment 1 (units 3..9) keeps 3, segment 2 (10..23, protected 10
    // and 19) keeps 4.
    expect(planSearch(range(3, 10), [0, 10, 19], 3)).toEqual({ count: 35n, search: 'exhaustive' });
    expect(planSearch(range(10, 24), [0, 10, 19], 4)).toEqual({ count: 66n, search: 'exhaustive' });
    expect(planSearch(range(0, 16), [], 8).search).toBe('greedy'); // C(16, 8) = 12870
    expect(planSearch(range(0, 14), [], 3)).toEqual({ count: 364n, search: 'exhaustive' });
    expect(planSearch(range(0, 7), [], 3, 35).search).toBe('exhaustive');
    expect(planSearch(range(0, 7), [], 3, 34).search).toBe('greedy');
    // C(14, 4) = 1001 (the authors' largest), C(15, 4) = 1365, C(16, 4) = 1820, C(17, 4) = 2380.
    expect(planSearch(range(0, 16), [], 4).search).toBe('exhaustive');
    expect(planSearch(range(0, 17), [], 4).search).toBe('greedy');
  });

  it('refuses impossible keep counts and malformed segments', () => {
    expect(() => planSearch(range(10, 14), [10, 12], 1)).toThrow(
      'segment of units 10, 11, 12, 13 with 2 protected cannot keep 1 (expected 2 to 4)',
    );
    expect(() => planSearch(range(0, 3), [], 4)).toThrow('cannot keep 4');
    expect(() => planSearch([1, 2, 2], [], 1)).toThrow('segment lists unit 2 twice');
    expect(() => planSearch([], [], 0)).toThrow('segment has no units');
  });
});

describe('exhaustive search', () => {
  it('scores every candidate once, in order, and keeps the best (ties: earliest)', async () => {
    const score = additive((u) => (u === 5 ? 10 : 1));
    const r = await exhaustiveSearch(range(3, 8), [4], 3, score, 'min');
    expect(r.search).toBe('exhaustive');
    expect(r.keep).toBe(3);
    expect(r.candidates).toHaveLength(6); // C(4, 2)
    expect(score.calls).toEqual(r.candidates.map((c) => c.units));
    expect(r.candidates.map((c) => c.units)).toEqual([
      [3, 4, 5],
      [3, 4, 6],
      [3, 4, 7],
      [4, 5, 6],
      [4, 5, 7],
      [4, 6, 7],
    ]);
    // Every set without unit 5 scores 3: the earliest, [3, 4, 6], wins.
    expect(r.best).toEqual({ units: [3, 4, 6], score: 3 });
    const max = await exhaustiveSearch(
      range(3, 8),
      [4],
      3,
      additive((u) => (u === 5 ? 10 : 1)),
      'max',
    );
    expect(max.best).toEqual({ units: [3, 4, 5], score: 12 });
  });

  it('finds the brute-force optimum', async () => {
    const rng = new Rng(7);
    const w = range(0, 12).map(() => rng.float());
    const r = await exhaustiveSearch(
      range(0, 12),
      [2, 9],
      5,
      additive((u) => w[u]),
      'min',
    );
    const sorted = range(0, 12)
      .filter((u) => u !== 2 && u !== 9)
      .sort((a, b) => w[a] - w[b])
      .slice(0, 3);
    expect(r.best.units).toEqual([2, 9, ...sorted].sort((a, b) => a - b));
    expect(r.candidates).toHaveLength(120); // C(10, 3)
  });

  it('refuses a non-finite score, naming the candidate', async () => {
    await expect(exhaustiveSearch([1, 2], [], 1, async () => Number.NaN, 'min')).rejects.toThrow(
      'score of keep-set [1] is NaN, expected a finite number',
    );
  });
});

describe('greedy search', () => {
  it('drops the unit whose removal scores best each step and records every candidate', async () => {
    // Keeping a unit costs its weight: min drops the heaviest unprotected unit first.
    const w: Record<number, number> = { 3: 5, 4: 1, 5: 9, 6: 2, 7: 7 };
    const score = additive((u) => w[u]);
    const r = await greedySearch(range(3, 8), [6], 2, score, 'min');
    expect(r.search).toBe('greedy');
    expect(r.best).toEqual({ units: [4, 6], score: 3 });
    // Step 1 tries dropping 3, 4, 5, 7 (6 is protected); step 2 (from [3, 4, 6, 7]) tries 3, 4, 7;
    // step 3 (from [3, 4, 6]) tries 3, 4.
    expect(r.candidates.map((c) => c.units)).toEqual([
      [4, 5, 6, 7],
      [3, 5, 6, 7],
      [3, 4, 6, 7],
      [3, 4, 5, 6],
      [4, 6, 7],
      [3, 6, 7],
      [3, 4, 6],
      [4, 6],
      [3, 6],
    ]);
    expect(score.calls).toEqual(r.candidates.map((c) => c.units));
    const max = await greedySearch(
      range(3, 8),
      [6],
      2,
      additive((u) => w[u]),
      'max',
    );
    expect(max.best.units).toEqual([5, 6]);
  });

  it('breaks ties by dropping the earliest unit', async () => {
    const r = await greedySearch(range(3, 10), [], 3, async () => 1, 'min');
    expect(r.best).toEqual({ units: [7, 8, 9], score: 1 });
    expect(r.candidates).toHaveLength(7 + 6 + 5 + 4);
  });

  it('agrees with exhaustive search on an additive score', async () => {
    const rng = new Rng(3);
    const w = range(0, 10).map(() => rng.float());
    for (const select of ['min', 'max'] as const) {
      const g = await greedySearch(
        range(0, 10),
        [0, 5],
        4,
        additive((u) => w[u]),
        select,
      );
      const e = await exhaustiveSearch(
        range(0, 10),
        [0, 5],
        4,
        additive((u) => w[u]),
        select,
      );
      expect(g.best.units).toEqual(e.best.units);
      expect(g.best.score).toBeCloseTo(e.best.score, 12);
    }
  });

  it('scores the whole segment once when nothing is dropped', async () => {
    const r = await greedySearch(
      [4, 2, 3],
      [],
      3,
      additive((u) => u),
      'min',
    );
    expect(r.candidates).toEqual([{ units: [2, 3, 4], score: 9 }]);
    expect(r.best).toEqual({ units: [2, 3, 4], score: 9 });
  });
});

describe('per-segment search', () => {
  it('returns the report shape, exhaustive or greedy by the candidate count', async () => {
    const small = await searchSegment(
      1,
      range(3, 10),
      [0, 10, 19],
      3,
      additive((u) => u),
      'min',
    );
    expect(small.segment).toBe(1);
    expect(small.keep).toBe(3);
    expect(small.search).toBe('exhaustive');
    expect(small.candidates).toHaveLength(35);
    expect(small.best).toEqual({ units: [3, 4, 5], score: 12 });
    expect(Object.keys(small).sort()).toEqual(['best', 'candidates', 'keep', 'search', 'segment']);

    const big = await searchSegment(
      2,
      range(0, 20),
      [0],
      10,
      additive((u) => u),
      'min',
    );
    expect(big.search).toBe('greedy');
    expect(big.best.units).toEqual(range(0, 10));
    // 19 + 18 + … + 10 unprotected units tried over the 10 steps.
    expect(big.candidates).toHaveLength(145);

    const capped = await searchSegment(
      0,
      range(0, 7),
      [],
      3,
      additive((u) => u),
      'max',
      10,
    );
    expect(capped.search).toBe('greedy');
    expect(capped.best.units).toEqual([4, 5, 6]);
  });
});

function lexLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] < b[i];
  return a.length < b.length;
}
