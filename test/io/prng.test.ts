import { describe, expect, it } from 'vitest';
import { deriveSeed, Rng } from '../../src/io/prng.js';

describe('Rng', () => {
  it('is mulberry32: a fixed stream for a fixed seed', () => {
    const a = new Rng(42);
    const first = [a.uint32(), a.uint32(), a.uint32()];
    const b = new Rng(42);
    expect([b.uint32(), b.uint32(), b.uint32()]).toEqual(first);
    // What the widely copied JavaScript mulberry32 gives for seed 1, pinned so a change is noticed.
    const c = new Rng(1);
    expect([c.uint32(), c.uint32()]).toEqual(PINNED);
  });

  it('derives independent streams from a seed and stream numbers', () => {
    expect(deriveSeed(7, 0, 1)).toBe(deriveSeed(7, 0, 1));
    const seeds = new Set([
      deriveSeed(7, 0, 1),
      deriveSeed(7, 0, 2),
      deriveSeed(7, 1, 1),
      deriveSeed(8, 0, 1),
      deriveSeed(7 + 2 ** 32, 0, 1),
    ]);
    expect(seeds.size).toBe(5);
    expect(() => deriveSeed(1.5)).toThrow('seed must be a safe integer, got 1.5');
  });

  it('draws integers in range without bias and shuffles to a permutation', () => {
    const r = new Rng(3);
    const counts = new Array(9).fill(0);
    for (let i = 0; i < 90000; i++) counts[r.int(9)]++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(500);
    const p = r.shuffle(Int32Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(p).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(p)).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
    const f = r.float();
    expect(f >= 0 && f < 1).toBe(true);
  });
});

const PINNED = [2693262067, 11749833];
