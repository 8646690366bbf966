import { describe, expect, it } from 'vitest';
import { DeviceLostError, KernelError } from '../../src/gpu/errors.js';
import { bucketSize } from '../../src/gpu/pool.js';
import { specialise } from '../../src/gpu/shader.js';
import { acquireDevice } from '../../src/node/device.js';
import { gemm } from '../../src/ops/linalg/gemm.js';
import { sum } from '../../src/ops/reduce/reduce.js';
import { useGpu } from '../helpers/gpu.js';
import { values } from '../helpers/reference.js';

const getGpu = useGpu();

describe('shader specialisation', () => {
  it('substitutes values and selects #if branches', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: WGSL templates use ${NAME} placeholders.
    const src = 'a ${N}\n#if ${FLAG}\nyes\n#else\nno\n#endif\n';
    expect(specialise(src, { N: 4, FLAG: true })).toContain('yes');
    expect(specialise(src, { N: 4, FLAG: false })).toMatch(/a 4\s+no/);
    expect(() => specialise(src, { FLAG: true })).toThrow(/\$\{N\} but no value/);
  });
});

describe('buffer pool', () => {
  it('rounds sizes up to half-octave buckets, 16-byte aligned', () => {
    expect(bucketSize(1)).toBe(256);
    expect(bucketSize(1000)).toBe(1024);
    expect(bucketSize(1025)).toBe(1536);
    expect(bucketSize(1537)).toBe(2048);
    for (const n of [3, 999, 12345, 1 << 20]) {
      expect(bucketSize(n)).toBeGreaterThanOrEqual(n);
      expect(bucketSize(n) % 16).toBe(0);
      expect(bucketSize(n)).toBeLessThan(1.5 * n + 256);
    }
  });

  it('reuses freed buffers, and scopes free what they do not return', async () => {
    const gpu = await getGpu();
    const a = gpu.zeros([1000]);
    const buffer = a.buffer;
    a.dispose();
    const b = gpu.zeros([900]);
    expect(b.buffer).toBe(buffer);
    const live = gpu.pool.liveBytes;
    const kept = await gpu.scope(() => {
      gpu.zeros([10]);
      gpu.zeros([20]);
      return { t: gpu.zeros([30]) };
    });
    expect(gpu.pool.liveBytes).toBe(live + kept.t.buffer.size);
    kept.t.dispose();
    b.dispose();
  });
});

describe('device', () => {
  it('defers destroying a released buffer that recorded work still uses until that work is submitted', async () => {
    const gpu = await getGpu();
    const saved = gpu.pool.maxFreeBytes;
    gpu.pool.maxFreeBytes = 0; // every release is over the cap
    try {
      const x = gpu.tensor(values(1000, 7), [1000]);
      const s = sum(gpu, x); // recorded, not submitted
      x.dispose();
      expect(gpu.pool.pendingDestroy).toBeGreaterThan(0);
      const [total] = await gpu.readF32(s);
      expect(gpu.pool.pendingDestroy).toBe(0);
      // The kernel read the released buffer's data, not a reused or destroyed one: the f64 sum of the
      // uploaded f32 values, within f32 summation error (1000 terms of |v| <= 1).
      const want = values(1000, 7).reduce((a, v) => a + v, 0);
      expect(Math.abs(total - want)).toBeLessThan(1e-4);
    } finally {
      gpu.pool.maxFreeBytes = saved;
    }
  });

  it('requests the adapter limits and the optional features present', async () => {
    const gpu = await getGpu();
    expect(gpu.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 << 20);
    expect(gpu.limits.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(16 << 10);
    expect(gpu.adapter.description.length + gpu.adapter.architecture.length).toBeGreaterThan(0);
  });

  it('batches many dispatches into few submits', async () => {
    const gpu = await getGpu();
    const before = { ...gpu.counters };
    const x = gpu.tensor(values(1000, 1), [10, 100]);
    for (let i = 0; i < 40; i++) sum(gpu, x, 1).dispose();
    await gpu.sync();
    expect(gpu.counters.dispatches - before.dispatches).toBe(40);
    expect(gpu.counters.submits - before.submits).toBeLessThanOrEqual(2);
  });

  it('turns a WGSL compile error into a KernelError naming the kernel and the line', async () => {
    const gpu = await getGpu();
    const out = gpu.zeros([4]);
    await gpu.sync(); // a failed batch drops all of its work, so keep this out of it
    gpu.dispatch({
      kernel: {
        name: 'broken',
        template: '@compute @workgroup_size(1) fn main() { let x: f32 = nope; }',
        defines: {},
      },
      buffers: [],
      workgroups: [1],
    });
    const err = await gpu.sync().catch((e) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect(String(err.message)).toMatch(/kernel broken\(\).*nope/s);
    // The device stays usable.
    expect(Array.from(await gpu.readF32(out))).toEqual([0, 0, 0, 0]);
  });

  it('survives hundreds of readbacks with CPU work in between (dawn.node staging hazard)', async () => {
    const gpu = await getGpu();
    // Two tensors read in turn: a staging buffer handed back with an earlier readback's contents would
    // give the other tensor's values, which the bit comparison below catches.
    const sources = [values(1 << 16, 4), values(1 << 16, 5)];
    const tensors = sources.map((v) => gpu.tensor(v, [1 << 16]));
    const bits = sources.map((v) => new Uint32Array(v.buffer, v.byteOffset, v.length));
    let checksum = 0;
    for (let i = 0; i < 300; i++) {
      const data = await gpu.readF32(tensors[i % 2]);
      const got = new Uint32Array(data.buffer, data.byteOffset, data.length);
      const want = bits[i % 2];
      expect(got.length).toBe(want.length);
      let differ = -1;
      for (let j = 0; j < want.length && differ < 0; j++) if (got[j] !== want[j]) differ = j;
      expect(differ, `readback ${i}: first differing element`).toBe(-1);
      // CPU work and garbage between readbacks is what used to crash.
      const copy = Float64Array.from(data);
      for (let j = 0; j < copy.length; j += 64) checksum += copy[j];
    }
    // The same sum from the uploaded values, in the same order: exact.
    let want = 0;
    for (let i = 0; i < 300; i++) for (let j = 0; j < 1 << 16; j += 64) want += sources[i % 2][j];
    expect(checksum).toBe(want);
    for (const t of tensors) t.dispose();
  });

  it('profiles kernels with timestamp queries when asked', async () => {
    const gpu = await acquireDevice({ profile: true });
    try {
      const av = values(64 * 64, 1);
      const a = gpu.tensor(av, [64, 64]);
      const c = await gpu.readF32(gemm(gpu, a, a));
      // Profiling must not change results: two entries of A·A against f64 (64 terms of |v| <= 1).
      for (const [i, j] of [
        [0, 0],
        [63, 17],
      ]) {
        let want = 0;
        for (let k = 0; k < 64; k++) want += av[i * 64 + k] * av[k * 64 + j];
        expect(Math.abs(c[i * 64 + j] - want)).toBeLessThan(1e-4);
      }
      const rows = gpu.profiler?.summary() ?? [];
      expect(rows.some((r) => r.kernel.startsWith('gemm(') && r.calls === 1)).toBe(true);
      expect(gpu.profiler?.table()).toMatch(/calls\s+total ms\s+mean us\s+kernel/);
    } finally {
      gpu.destroy();
    }
  });

  it('reports device loss as a clear error instead of hanging', async () => {
    const gpu = await acquireDevice();
    const x = gpu.tensor(values(16, 1), [16]);
    gpu.device.destroy();
    await new Promise((r) => setTimeout(r, 50));
    let error: unknown;
    try {
      sum(gpu, x);
      await gpu.sync();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DeviceLostError);
    expect(String(error)).toMatch(/GPU device lost/);
  });
});
