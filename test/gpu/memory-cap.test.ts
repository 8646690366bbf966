import { describe, expect, it } from 'vitest';
import { bucketSize, DeviceMemoryError } from '../../src/gpu/pool.js';
import { acquireDevice } from '../../src/node/device.js';
import { add } from '../../src/ops/elementwise/elementwise.js';

describe('device-memory accounting and cap', () => {
  it('tracks live and peak bytes, and refuses an allocation past the cap with a clear error', async () => {
    const cap = 3 * 4096;
    const gpu = await acquireDevice({ memoryCap: cap });
    try {
      const pool = gpu.pool;
      expect(pool.memoryCap).toBe(cap);
      const live0 = pool.liveBytes;
      const a = gpu.empty([1024], 'f32', 'weights A'); // 4096 bytes
      const b = gpu.tensor(new Float32Array(1024).fill(2), [1024]);
      expect(pool.liveBytes - live0).toBe(2 * bucketSize(4096));
      let err: unknown;
      try {
        gpu.empty([1500], 'f32', 'too big'); // 6000 bytes -> a 6144-byte bucket
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DeviceMemoryError);
      const m = (err as Error).message;
      expect(m).toContain('too big');
      expect(m).toContain(`${bucketSize(6000)} bytes`);
      expect(m).toContain(`cap of ${cap} bytes`);
      expect(m).toContain('1 weights A buffer 4096 bytes');
      expect(m).toContain('1 tensor buffer 4096 bytes');
      // Nothing was allocated by the refused call.
      expect(pool.liveBytes - live0).toBe(8192);
      // Work that fits still runs; the result is exact.
      gpu.write(a, new Float32Array(1024).fill(1));
      const c = add(gpu, a, b);
      expect(Array.from(await gpu.readF32(c)).every((v) => v === 3)).toBe(true);
      expect(pool.peakBytes).toBeGreaterThanOrEqual(live0 + 3 * 4096);
      const peak = pool.peakBytes;
      a.dispose();
      b.dispose();
      c.dispose();
      expect(pool.liveBytes).toBe(live0);
      expect(pool.peakBytes).toBe(peak);
      // Freed, the memory is available again, even for another bucket size (free buffers are dropped).
      const d = gpu.empty([1500], 'f32', 'fits now');
      const e = gpu.empty([1000]);
      expect(pool.liveBytes - live0).toBe(bucketSize(6000) + bucketSize(4000));
      d.dispose();
      e.dispose();
      pool.resetPeak();
      expect(pool.peakBytes).toBe(pool.liveBytes);
      // The cap can be lifted.
      pool.memoryCap = undefined;
      gpu.empty([1 << 16]).dispose();
    } finally {
      gpu.destroy();
    }
  });

  it('rejects a cap that is not a positive whole number of bytes', async () => {
    for (const memoryCap of [0, -1, 1.5, Number.NaN]) {
      await expect(acquireDevice({ memoryCap })).rejects.toThrow(/memoryCap must be a whole number/);
    }
  });
});
