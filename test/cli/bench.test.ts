// `sglp bench --quick`: every group runs on this adapter, rows carry rates, the JSON is one object, and a
// known GPU's peak gives fractions (the table, as a pure function).
import { describe, expect, it } from 'vitest';
import { BENCH_GROUPS, benchCommand } from '../../src/cli/bench.js';
import { knownPeak } from '../../src/cli/bench-peaks.js';
import { useGpu } from '../helpers/gpu.js';

const getGpu = useGpu();

function captureIo() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), tty: false },
    out,
    err,
  };
}

describe('sglp bench', () => {
  it('--quick --json: every group, checks pass, rates and peak fractions from --peak-*', async () => {
    const gpu = await getGpu();
    const { io, out, err } = captureIo();
    // Every group but conv and resnet (their halo kernels take ~10 s each to compile on a cold lavapipe
    // cache; the ResNet tests run them): those two groups are the same code path, measure().
    const groups = BENCH_GROUPS.filter((g) => g !== 'conv' && g !== 'resnet');
    const r = await benchCommand(
      { quick: true, json: true, only: groups.join(','), peakGflops: 100, peakGbs: 10 },
      { gpu, io },
    );
    expect(out.length).toBe(1);
    const parsed = JSON.parse(out[0]);
    expect(parsed.rows.length).toBe(r.rows.length);
    expect(r.checks.every((c) => c.ok)).toBe(true);
    expect(new Set(r.rows.map((x) => x.group))).toEqual(new Set(groups));
    for (const row of r.rows) {
      expect(row.ms).toBeGreaterThan(0);
      expect(row.minMs).toBeLessThanOrEqual(row.ms);
      expect(row.gflops ?? row.gbs).toBeGreaterThan(0);
      if (row.gflops !== undefined) expect(row.peakFlopFraction).toBeCloseTo(row.gflops / 100, 10);
      if (row.gbs !== undefined) expect(row.peakBandwidthFraction).toBeCloseTo(row.gbs / 10, 10);
    }
    expect(r.rows.filter((x) => x.items === 'tokens').length).toBe(2);
    expect(err.join('')).toMatch(/adapter: /);
    expect(gpu.pool.liveBytes).toBe(0);
  });

  it('--only picks groups and rejects unknown ones', async () => {
    const gpu = await getGpu();
    const { io } = captureIo();
    const r = await benchCommand({ quick: true, only: 'sum' }, { gpu, io });
    expect(r.rows.map((x) => x.group)).toEqual(['sum', 'sum']);
    // No peak known for a CPU adapter and none given: no fractions.
    if (gpu.adapter.isCpu) expect(r.rows[0].peakBandwidthFraction).toBeUndefined();
    await expect(benchCommand({ quick: true, only: 'gemm,nope' }, { gpu, io })).rejects.toThrow(
      /unknown group "nope"/,
    );
  });

  it('knows datasheet peaks of common datacenter GPUs, none for CPU adapters', () => {
    const base = {
      vendor: 'nvidia',
      architecture: '',
      description: '',
      isCpu: false,
      subgroupMinSize: 32,
      subgroupMaxSize: 32,
    };
    expect(knownPeak({ ...base, device: 'nvidia-h200' })?.bandwidthGbs).toBe(4800);
    expect(knownPeak({ ...base, device: 'NVIDIA H100 PCIe' })?.f32Gflops).toBe(51_000);
    expect(knownPeak({ ...base, device: 'NVIDIA H100 80GB HBM3' })?.name).toMatch(/SXM/);
    expect(knownPeak({ ...base, device: 'llvmpipe', isCpu: true })).toBeNull();
  });
});
