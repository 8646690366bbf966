import { describe, expect, it } from 'vitest';
import {
  type AttentionTiles,
  attention,
  attentionWorkgroupBytes,
  chooseAttentionTiles,
} from '../../../src/ops/llm/attention.js';
import { type AttentionCase, checkAttention } from '../../helpers/attention-check.js';
import { needFeature, useGpu } from '../../helpers/gpu.js';

const getGpu = useGpu();

/** Workgroup-memory tiles (no shuffles): the path adapters without a fixed subgroup size take. */
const sharedTiles = (lanes: number, rows = 2): AttentionTiles => ({
  lanes,
  rows,
  keyRows: rows,
  shuffle: false,
});

async function check(c: AttentionCase, tiles?: AttentionTiles, gradSamples = 150) {
  await checkAttention(await getGpu(), c, { tiles }, gradSamples);
}

describe('attention (flash, GQA)', () => {
  it.each<AttentionCase>([
    { B: 1, Hq: 3, Hkv: 1, T: 7, D: 6, layout: 'bhtd' },
    { B: 2, Hq: 4, Hkv: 2, T: 1, D: 6, layout: 'bthd' },
    { B: 1, Hq: 2, Hkv: 2, T: 40, D: 8, layout: 'bhtd' },
    { B: 1, Hq: 2, Hkv: 2, T: 40, D: 8, layout: 'bhtd', causal: false },
    { B: 2, Hq: 3, Hkv: 3, T: 13, D: 10, layout: 'bthd', causal: false },
    { B: 1, Hq: 4, Hkv: 1, T: 67, D: 64, layout: 'bthd' },
    { B: 1, Hq: 2, Hkv: 1, T: 33, D: 5, layout: 'bhtd' },
  ])('%j with the adapter tiles', async (c) => {
    await check(c, undefined, c.D * c.T > 1000 ? 40 : 150);
  });

  it.for<[AttentionCase, AttentionTiles]>([
    [{ B: 1, Hq: 3, Hkv: 1, T: 7, D: 6, layout: 'bhtd' }, sharedTiles(4, 1)],
    [{ B: 2, Hq: 2, Hkv: 2, T: 20, D: 10, layout: 'bhtd', causal: false }, sharedTiles(4, 2)],
    [{ B: 1, Hq: 1, Hkv: 1, T: 37, D: 72, layout: 'bthd' }, sharedTiles(8, 1)],
    [
      { B: 1, Hq: 6, Hkv: 2, T: 29, D: 12, layout: 'bthd' },
      { lanes: 8, rows: 1, keyRows: 1, shuffle: true },
    ],
    [
      { B: 1, Hq: 2, Hkv: 1, T: 70, D: 40, layout: 'bhtd' },
      { lanes: 8, rows: 1, keyRows: 3, shuffle: true },
    ],
  ])('%j with tiles %j', async ([c, tiles], ctx) => {
    const gpu = await getGpu();
    if (tiles.shuffle) {
      needFeature(
        ctx,
        'subgroups-8',
        gpu.fixedSubgroupSize === tiles.lanes,
        `shuffle tiles need a fixed subgroup size of ${tiles.lanes} (adapter: ${gpu.fixedSubgroupSize || 'not fixed'})`,
      );
    }
    await check(c, tiles);
  });

  it('picks shuffle tiles for a fixed subgroup size, and exchange buffers that fit otherwise', () => {
    expect(chooseAttentionTiles(true, 8, 64, 32768)).toMatchObject({ lanes: 8, shuffle: true });
    expect(chooseAttentionTiles(false, 32, 128, 16384)).toMatchObject({ lanes: 32, shuffle: true });
    for (const [dim, bytes] of [
      [64, 16384],
      [128, 16384],
      [256, 16384],
      [64, 8192],
    ]) {
      const t = chooseAttentionTiles(false, 0, dim, bytes);
      expect(t.shuffle).toBe(false);
      expect(attentionWorkgroupBytes(t, dim)).toBeLessThanOrEqual(bytes);
    }
  });

  it('rejects query heads that are not a multiple of the kv heads', async () => {
    const gpu = await getGpu();
    await gpu.scope(() => {
      expect(() =>
        attention(gpu, gpu.zeros([1, 3, 4, 8]), gpu.zeros([1, 2, 4, 8]), gpu.zeros([1, 2, 4, 8])),
      ).toThrow(/multiple of kv heads/);
    });
  });
});
