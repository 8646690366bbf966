import { describe, expect, it } from 'vitest';
import { activation, binary, scale } from '../../../src/ops/elementwise/elementwise.js';
import { useGpu } from '../../helpers/gpu.js';
import { act, values, worstRatio } from '../../helpers/reference.js';

const getGpu = useGpu();

/** Index of `out` coordinates into a broadcast operand of `shape`. */
function broadcastIndex(i: number, out: number[], shape: number[]): number {
  let rest = i;
  let idx = 0;
  let stride = 1;
  for (let d = out.length - 1; d >= 0; d--) {
    const c = rest % out[d];
    rest = Math.floor(rest / out[d]);
    const sd = d - (out.length - shape.length);
    if (sd >= 0) {
      if (shape[sd] !== 1) idx += c * stride;
      stride *= shape[sd];
    }
  }
  return idx;
}

const ops = {
  add: (a: number, b: number) => a + b,
  sub: (a: number, b: number) => a - b,
  mul: (a: number, b: number) => a * b,
  div: (a: number, b: number) => a / b,
};

describe('elementwise', () => {
  it.each([
    [
      [5, 7],
      [5, 7],
      [5, 7],
    ],
    [[4, 3], [3], [4, 3]],
    [
      [2, 3, 4, 5],
      [3, 1, 1],
      [2, 3, 4, 5],
    ],
    [[1], [6, 1, 2], [6, 1, 2]],
    [
      [3, 1],
      [1, 4],
      [3, 4],
    ],
    [[1, 1, 1], [1], [1, 1, 1]],
  ])('add/sub/mul/div broadcast %j with %j', async (sa, sb, so) => {
    const gpu = await getGpu();
    const na = sa.reduce((x, y) => x * y, 1);
    const nb = sb.reduce((x, y) => x * y, 1);
    const n = so.reduce((x, y) => x * y, 1);
    const a = values(na, 1);
    const b = values(nb, 2).map((v) => v + 2); // keeps div away from zero
    for (const op of ['add', 'sub', 'mul', 'div'] as const) {
      const t = binary(gpu, op, gpu.tensor(a, sa), gpu.tensor(b, sb));
      expect(t.shape).toEqual(so);
      const got = await gpu.readF32(t);
      const want = Array.from({ length: n }, (_, i) =>
        ops[op](a[broadcastIndex(i, so, sa)], b[broadcastIndex(i, so, sb)]),
      );
      expect(worstRatio(got, want, want.map(Math.abs), 1e-6, 1e-7)).toBeLessThanOrEqual(1);
    }
  });

  it.each(['relu', 'silu', 'gelu'] as const)('%s over odd sizes and wide ranges', async (name) => {
    const gpu = await getGpu();
    for (const n of [1, 63, 65, 10_007]) {
      const x = values(n, n, 8);
      const got = await gpu.readF32(activation(gpu, name, gpu.tensor(x, [n])));
      const want = Array.from(x, act[name]);
      // erf approximation in gelu: absolute error ~1.5e-7 times |x|/2.
      expect(worstRatio(got, want, want.map(Math.abs), 2e-6, 2e-6)).toBeLessThanOrEqual(1);
    }
  });

  it('scale, and more elements than one dispatch row holds (grid-stride)', async () => {
    const gpu = await getGpu();
    const n = 65535 * 64 + 129;
    const x = values(n, 3);
    const got = await gpu.readF32(scale(gpu, gpu.tensor(x, [n]), -2.5));
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[i] + 2.5 * x[i]));
    expect(worst).toBeLessThan(1e-6);
  });

  it('rejects shapes that do not broadcast', async () => {
    const gpu = await getGpu();
    expect(() => binary(gpu, 'add', gpu.zeros([2, 3]), gpu.zeros([4]))).toThrow(
      /\[2, 3\] and \[4\] do not broadcast/,
    );
  });
});
