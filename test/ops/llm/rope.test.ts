import { describe, expect, it } from 'vitest';
import {
  parseRopeScaling,
  type RopeConfig,
  rope,
  ropeBackward,
  ropeInvFreq,
  ropeTables,
} from '../../../src/ops/llm/rope.js';
import { useGpu } from '../../helpers/gpu.js';
import { dot, numericGrad, worstVsMax } from '../../helpers/grad-check.js';
import { invFreqRef, ropeRef } from '../../helpers/llm-reference.js';
import { values } from '../../helpers/reference.js';

const getGpu = useGpu();

const llama31 = {
  factor: 8,
  lowFreqFactor: 1,
  highFreqFactor: 4,
  originalMaxPositionEmbeddings: 8192,
};

describe('RoPE frequencies', () => {
  it.each([
    [{ headDim: 64, theta: 10000 }],
    [{ headDim: 6, theta: 10000 }],
    [{ headDim: 10, theta: 1e6 }],
    [{ headDim: 128, theta: 500000, scaling: { type: 'llama3', ...llama31 } }],
    [{ headDim: 64, theta: 500000, scaling: { type: 'llama3', ...llama31, factor: 32 } }],
  ] as [RopeConfig][])('inv_freq of %j matches the f64 formula to f32 rounding', (cfg) => {
    const got = ropeInvFreq(cfg);
    const want = invFreqRef(cfg.headDim, cfg.theta, cfg.scaling?.type === 'llama3' ? cfg.scaling : undefined);
    // A handful of f32 roundings per value.
    for (let i = 0; i < want.length; i++)
      expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(5e-7 * want[i]);
  });

  it('Llama 3.1 scaling leaves high frequencies, divides low ones by factor and blends the middle', () => {
    const base = ropeInvFreq({ headDim: 128, theta: 500000 });
    const scaled = ropeInvFreq({ headDim: 128, theta: 500000, scaling: { type: 'llama3', ...llama31 } });
    const kinds = new Set<string>();
    for (let i = 0; i < 64; i++) {
      const wave = (2 * Math.PI) / base[i];
      if (wave < 8192 / 4) {
        expect(scaled[i]).toBe(base[i]);
        kinds.add('high');
      } else if (wave > 8192) {
        expect(scaled[i]).toBeCloseTo(base[i] / 8, 12);
        kinds.add('low');
      } else {
        expect(scaled[i]).toBeLessThan(base[i]);
        expect(scaled[i]).toBeGreaterThan(base[i] / 8);
        kinds.add('mid');
      }
    }
    expect([...kinds].sort()).toEqual(['high', 'low', 'mid']);
  });

  it('linear scaling divides every frequency', () => {
    const base = ropeInvFreq({ headDim: 8, theta: 10000 });
    const lin = ropeInvFreq({ headDim: 8, theta: 10000, scaling: { type: 'linear', factor: 4 } });
    lin.forEach((v, i) => {
      expect(v).toBe(Math.fround(base[i] / 4));
    });
  });

  it('parses config.json rope_scaling', () => {
    expect(parseRopeScaling(null)).toBeUndefined();
    expect(parseRopeScaling({ rope_type: 'default' })).toBeUndefined();
    expect(
      parseRopeScaling({
        rope_type: 'llama3',
        factor: 8.0,
        low_freq_factor: 1.0,
        high_freq_factor: 4.0,
        original_max_position_embeddings: 8192,
      }),
    ).toEqual({ type: 'llama3', ...llama31 });
    expect(parseRopeScaling({ type: 'linear', factor: 2 })).toEqual({ type: 'linear', factor: 2 });
    expect(() => parseRopeScaling({ rope_type: 'yarn', factor: 4 })).toThrow(/"yarn" is not supported/);
    expect(() => parseRopeScaling({ rope_type: 'llama3', factor: 8 })).toThrow(/low_freq_factor/);
  });
});

describe('RoPE', () => {
  it.each([
    [[2, 7, 3, 6], 'bthd', 0, { headDim: 6, theta: 10000 }],
    [[1, 2, 7, 10], 'bhtd', 5, { headDim: 10, theta: 10000 }],
    [[1, 1, 1, 4], 'bthd', 0, { headDim: 4, theta: 10000 }],
    [[2, 3, 5, 8], 'bthd', 3, { headDim: 8, theta: 500000, scaling: { type: 'llama3', ...llama31 } }],
  ] as [number[], 'bthd' | 'bhtd', number, RopeConfig][])(
    '%j %s from position %i: forward against f64, backward against central differences',
    async (shape, layout, offset, cfg) => {
      const gpu = await getGpu();
      const n = shape.reduce((a, b) => a * b, 1);
      const T = layout === 'bthd' ? shape[1] : shape[2];
      const x = values(n, n + offset, 2);
      const r = values(n, 3 * n);
      const inv = invFreqRef(
        cfg.headDim,
        cfg.theta,
        cfg.scaling?.type === 'llama3' ? cfg.scaling : undefined,
      );
      const angle = (t: number, i: number) => (offset + t) * inv[i];
      const got = await gpu.scope(async () => {
        const tables = ropeTables(gpu, cfg, { offset, length: T });
        const tx = gpu.tensor(x, shape);
        const out = rope(gpu, tx, tables, { layout });
        const dx = ropeBackward(gpu, gpu.tensor(r, shape), tables, { layout });
        return { out: await gpu.readF32(out), dx: await gpu.readF32(dx) };
      });
      // Small positions: angles differ from f64 by f32 rounding only (~1e-6 rad).
      expect(worstVsMax(got.out, ropeRef(x, shape, layout, angle), 3e-6)).toBeLessThanOrEqual(1);
      // Linear in x: central differences are exact up to f64 rounding.
      const fd = numericGrad(x, (v) => dot(ropeRef(v, shape, layout, angle), r), 0.5);
      expect(worstVsMax(got.dx, fd, 3e-6)).toBeLessThanOrEqual(1);
    },
  );

  it('far positions use Hugging Face float32 angles (f32(inv_freq * position)) and explicit position lists', async () => {
    const gpu = await getGpu();
    const cfg: RopeConfig = { headDim: 64, theta: 500000, scaling: { type: 'llama3', ...llama31 } };
    const positions = [0, 1, 4095, 8191, 20000, 131071];
    const shape = [1, positions.length, 2, 64];
    const x = values(
      shape.reduce((a, b) => a * b, 1),
      11,
    );
    const inv = ropeInvFreq(cfg);
    const out = await gpu.scope(async () => {
      const tables = ropeTables(gpu, cfg, positions);
      return gpu.readF32(rope(gpu, gpu.tensor(x, shape), tables));
    });
    const angle = (t: number, i: number) => Math.fround(inv[i] * positions[t]);
    expect(worstVsMax(out, ropeRef(x, shape, 'bthd', angle), 3e-6)).toBeLessThanOrEqual(1);
  });

  it('rejects an odd head dim and a table of the wrong length', async () => {
    const gpu = await getGpu();
    expect(() => ropeInvFreq({ headDim: 7, theta: 10000 })).toThrow(/even/);
    await gpu.scope(() => {
      const tables = ropeTables(gpu, { headDim: 4, theta: 10000 }, { length: 3 });
      expect(() => rope(gpu, gpu.zeros([1, 5, 2, 4]), tables)).toThrow(/5 positions/);
    });
  });
});
