import { describe, expect, it } from 'vitest';
import { embedding, embeddingBackward, uploadTokens } from '../../../src/ops/llm/embedding.js';
import { useGpu } from '../../helpers/gpu.js';
import { dot, numericGrad, pick, sampleIndices, worstVsMax } from '../../helpers/grad-check.js';
import { embeddingRef } from '../../helpers/llm-reference.js';
import { values } from '../../helpers/reference.js';

const getGpu = useGpu();

/** Ids with repeats (every third token reuses an earlier id). */
function ids(n: number, vocab: number, seed: number): number[] {
  const r = values(n, seed);
  return Array.from(r, (v, i) =>
    i % 3 === 2 ? Math.floor(i / 2) % vocab : Math.floor(((v + 1) / 2) * vocab),
  );
}

describe('embedding', () => {
  it.each([
    [11, 7, [2, 5]],
    [1, 3, [1]],
    [1000, 33, [3, 100]],
    [50, 1, [9]],
  ])(
    'vocab %i, hidden %i, ids %j: lookup is exact and the table gradient matches central differences',
    async (vocab, hidden, shape) => {
      const gpu = await getGpu();
      const n = shape.reduce((a, b) => a * b, 1);
      const tok = ids(n, vocab, vocab + hidden);
      const table = values(vocab * hidden, 3 * vocab + hidden);
      const r = values(n * hidden, 17 + n);
      const got = await gpu.scope(async () => {
        const tokens = uploadTokens(gpu, tok, shape, vocab);
        const out = embedding(gpu, gpu.tensor(table, [vocab, hidden]), tokens);
        expect(out.shape).toEqual([...shape, hidden]);
        const dW = embeddingBackward(gpu, gpu.tensor(r, [...shape, hidden]), tokens);
        const dW2 = embeddingBackward(gpu, gpu.tensor(r, [...shape, hidden]), tokens);
        const into = gpu.tensor(values(vocab * hidden, 5), [vocab, hidden]);
        embeddingBackward(gpu, gpu.tensor(r, [...shape, hidden]), tokens, { into });
        const result = {
          out: await gpu.readF32(out),
          dW: await gpu.readF32(dW),
          dW2: await gpu.readF32(dW2),
          acc: await gpu.readF32(into),
        };
        tokens.dispose();
        return result;
      });
      expect(Array.from(got.out)).toEqual(Array.from(embeddingRef(table, tok, hidden)));
      // The loss is linear in the table: central differences are exact up to f64 rounding.
      // Every used row's ends plus a spread of other elements (unused rows must be exactly 0).
      const idx = [
        ...new Set([
          ...tok.flatMap((t) => [t * hidden, t * hidden + hidden - 1]),
          ...sampleIndices(vocab * hidden, 300),
        ]),
      ];
      const fd = numericGrad(table, (w) => dot(embeddingRef(w, tok, hidden), r), 0.5, idx);
      // f32 sums of at most a few values of size <= 1.
      expect(worstVsMax(pick(got.dW, idx), fd, 1e-6, 1e-7)).toBeLessThanOrEqual(1);
      // All of it, exactly: each row is the in-order f32 sum of the rows of r with that id.
      const exact = new Float32Array(vocab * hidden);
      tok.forEach((t, i) => {
        for (let c = 0; c < hidden; c++)
          exact[t * hidden + c] = Math.fround(exact[t * hidden + c] + r[i * hidden + c]);
      });
      expect(got.dW).toEqual(exact);
      expect(got.dW2).toEqual(got.dW);
      const base = values(vocab * hidden, 5);
      const want = Float64Array.from(base, (v, i) => v + exact[i]);
      expect(worstVsMax(got.acc, want, 1e-6, 1e-7)).toBeLessThanOrEqual(1);
    },
  );

  it('rejects ids outside the vocabulary at upload, naming the token', async () => {
    const gpu = await getGpu();
    expect(() => uploadTokens(gpu, [1, 2, 9], [3], 9)).toThrow(
      /token 2 has id 9, expected an integer in \[0, 9\)/,
    );
    expect(() => uploadTokens(gpu, [1, -1], [2], 9)).toThrow(/token 1 has id -1/);
    expect(() => uploadTokens(gpu, [1.5], [1], 9)).toThrow(/token 0/);
    expect(() => uploadTokens(gpu, [1, 2], [3], 9)).toThrow(/2 ids for shape \[3\]/);
  });

  it('backward without the index is a clear error; a table of the wrong vocabulary too', async () => {
    const gpu = await getGpu();
    await gpu.scope(() => {
      const tokens = uploadTokens(gpu, [0, 1], [2], 4, { index: false });
      expect(() => embeddingBackward(gpu, gpu.zeros([2, 3]), tokens)).toThrow(/index: false/);
      expect(() => embedding(gpu, gpu.zeros([5, 3]), tokens)).toThrow(/table must be \[4, hidden\]/);
      tokens.dispose();
    });
  });
});
