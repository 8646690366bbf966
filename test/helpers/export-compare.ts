// Two exports of the same prune made on different WebGPU implementations (Node's Dawn, Chromium, Deno):
// every tensor byte for byte, except the recalibrated batch-norm statistics, which each device computes in
// its own f32 rounding and which therefore only agree within a tolerance.

import { expect } from 'vitest';
import { openSafetensors } from '../../src/io/safetensors.js';
import { bytesSource } from '../../src/io/source.js';

/** Relative tolerance of recalibrated running statistics between devices. */
const STATS_TOLERANCE = 1e-5;

export async function expectSameExport(
  actual: Uint8Array,
  expected: Uint8Array,
  what: string,
): Promise<void> {
  const a = await openSafetensors(bytesSource(actual, `${what} (actual)`));
  const b = await openSafetensors(bytesSource(expected, `${what} (expected)`));
  expect(a.keys(), what).toEqual(b.keys());
  let statistics = 0;
  for (const k of b.keys()) {
    if (!/running_(mean|var)$/.test(k)) {
      expect(
        Buffer.compare(Buffer.from(await a.bytes(k)), Buffer.from(await b.bytes(k))),
        `${what}: ${k}`,
      ).toBe(0);
      continue;
    }
    statistics++;
    const [x, y] = [await a.float32(k), await b.float32(k)];
    x.forEach((v, i) => {
      expect(Math.abs(v - y[i]), `${what}: ${k}[${i}]`).toBeLessThanOrEqual(
        STATS_TOLERANCE * (1 + Math.abs(y[i])),
      );
    });
  }
  // The tiny models the tests export have batch norm: the tolerant branch must have run.
  expect(statistics, `${what}: BN statistics compared`).toBeGreaterThan(0);
}
