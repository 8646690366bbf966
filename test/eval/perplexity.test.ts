import { describe, expect, it } from 'vitest';
import { evaluatePerplexity, type LanguageModel } from '../../src/eval/perplexity.js';
import { textWindows } from '../../src/io/text-data.js';

describe('evaluatePerplexity', () => {
  it('is exp of the mean NLL over every predicted token, whatever the batching', async () => {
    // A fake model whose NLL per predicted token is the value of the token predicted.
    const calls: number[] = [];
    const model: LanguageModel = {
      async nextTokenLoss(ids, batch, seq) {
        calls.push(batch);
        let sum = 0;
        for (let b = 0; b < batch; b++) for (let t = 1; t < seq; t++) sum += ids[b * seq + t] / 100;
        return { sum, tokens: batch * (seq - 1) };
      },
    };
    const ids = Array.from({ length: 200 }, (_, i) => i % 17);
    const data = textWindows(ids, 'train', 8); // 190 tokens: 23 windows
    let want = 0;
    for (let w = 0; w < 23; w++) for (let t = 1; t < 8; t++) want += ids[w * 8 + t] / 100;
    want /= 23 * 7;
    for (const batch of [1, 4, 23, 50]) {
      calls.length = 0;
      const m = await evaluatePerplexity(model, data, { batch });
      expect(m.tokens).toBe(23 * 7);
      expect(m.nll).toBeCloseTo(want, 12);
      expect(m.perplexity).toBeCloseTo(Math.exp(want), 12);
      expect(calls.reduce((a, b) => a + b, 0)).toBe(23);
    }
  });

  it('says when the split holds no full window', async () => {
    const model: LanguageModel = { nextTokenLoss: async () => ({ sum: 0, tokens: 0 }) };
    const data = textWindows([1, 2, 3, 4, 5], 'train', 8, { name: 'a.txt' });
    await expect(evaluatePerplexity(model, data, { batch: 2 })).rejects.toThrow(
      'a.txt (train): no full window of 8 tokens in 4 tokens',
    );
  });
});
