// `sglp selfcheck`: GEMM (both paths) and a long sum on the device against f64. On a working device every
// check passes well inside its bound; a device that returns wrong values fails every check; the command
// prints one JSON object with --json.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { selfcheck } from '../../src/api/selfcheck.js';
import type { Gpu } from '../../src/gpu/device.js';
import { useGpu } from '../helpers/gpu.js';

const exec = promisify(execFile);
const getGpu = useGpu();

const NAMES = ['gemm 257x130x515', 'gemm 64x36x1024 split-K', `sum of ${(1 << 20) + 3} values`];

/**
 * The device, except that every read-back has one value off by 100: a gross error. The sum check's bound
 * is 1e-5 of Σ|x| over 2^20 values (~5 in absolute terms), so a smaller error there passes it; see
 * docs/mutation.md ("noticed in src/").
 */
function corrupting(gpu: Gpu): Gpu {
  return new Proxy(gpu, {
    get(target, key) {
      if (key === 'readF32') {
        return async (...args: Parameters<Gpu['readF32']>) => {
          const v = await target.readF32(...args);
          v[v.length >> 1] += 100;
          return v;
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('selfcheck', () => {
  it('passes every check on this device, within f32 rounding', async () => {
    const checks = await selfcheck(await getGpu());
    expect(checks.map((c) => c.name)).toEqual(NAMES);
    for (const c of checks) {
      expect(c.ok, c.name).toBe(true);
      // The bound is 1e-5 of the summed |terms|; f32 accumulation of these sizes stays far below it.
      expect(c.maxRelError, c.name).toBeGreaterThanOrEqual(0);
      expect(c.maxRelError, c.name).toBeLessThan(1e-5);
      expect(c.ms, c.name).toBeGreaterThanOrEqual(0);
    }
  });

  it('fails every check when the device returns a wrong value', async () => {
    const checks = await selfcheck(corrupting(await getGpu()));
    expect(checks.map((c) => c.name)).toEqual(NAMES);
    for (const c of checks) {
      expect(c.ok, c.name).toBe(false);
      expect(c.maxRelError, c.name).toBeGreaterThan(1e-5);
    }
  });

  describe('the command', () => {
    beforeAll(async () => {
      await exec(process.execPath, ['scripts/build.mjs', '--no-types']);
    });

    it('--json prints one object: ok and the three checks', async () => {
      const r = await exec(process.execPath, ['dist/cli.js', 'selfcheck', '--json']);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      const printed = JSON.parse(lines[0]);
      expect(printed.ok).toBe(true);
      expect(printed.checks.map((c: { name: string }) => c.name)).toEqual(NAMES);
      expect(printed.checks.every((c: { ok: boolean }) => c.ok)).toBe(true);
    });
  });
});
