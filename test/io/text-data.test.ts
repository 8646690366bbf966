import { describe, expect, it } from 'vitest';
import { textSplitRange, textWindows } from '../../src/io/text-data.js';

describe('text windows (DESIGN.md: train = first 95% of tokens, full windows only)', () => {
  it('splits at floor(0.95 n) and cuts full windows from the start of each split', () => {
    expect(textSplitRange(101, 'train')).toEqual([0, 95]);
    expect(textSplitRange(101, 'test')).toEqual([95, 101]);
    expect(textSplitRange(20, 'train')).toEqual([0, 19]);
    const ids = Array.from({ length: 101 }, (_, i) => i);
    const train = textWindows(ids, 'train', 10);
    expect(train.windows).toBe(9);
    expect(train.splitTokens).toBe(95);
    expect(Array.from(train.ids.subarray(80, 90))).toEqual([80, 81, 82, 83, 84, 85, 86, 87, 88, 89]);
    expect(train.ids.length).toBe(90);
    const test = textWindows(ids, 'test', 3);
    expect(Array.from(test.ids)).toEqual([95, 96, 97, 98, 99, 100]);
    expect(textWindows(ids, 'test', 7).windows).toBe(0);
    expect(textWindows(ids, 'train', 10, { limit: 2 }).ids.length).toBe(20);
  });

  it('refuses windows that predict nothing', () => {
    expect(() => textWindows([1, 2, 3], 'train', 1)).toThrow('sequence length must be an integer >= 2');
  });
});
