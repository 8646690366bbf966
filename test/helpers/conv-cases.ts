// One convolution test case and its seeded inputs, shared by the conv kernel tests (conv2d.test.ts,
// conv2d-plane.test.ts).

import { values } from './reference.js';

export interface ConvCase {
  n: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  /** Square kernel size. */
  k: number;
  stride: number;
  pad: number;
  bias?: boolean;
}

/** x [N, Cin, H, W], weight [Cout, Cin, k, k] (and a bias when asked), seeded by the case's sizes. */
export function convData(c: ConvCase) {
  const xs = [c.n, c.cin, c.h, c.w];
  const ws = [c.cout, c.cin, c.k, c.k];
  const x = values(
    xs.reduce((a, b) => a * b, 1),
    c.n + 3 * c.cin + 7 * c.h + 11 * c.w,
  );
  const w = values(
    ws.reduce((a, b) => a * b, 1),
    c.cout + 5 * c.k + 13 * c.stride,
  );
  const b = c.bias ? values(c.cout, 11) : undefined;
  return { xs, ws, x, w, b };
}
