// The workgroup-memory flash attention kernels (shaders/flash-attention*.wgsl), what discrete GPUs run,
// checked on whatever adapter the tests have (lavapipe in CI): forward against the f64 CPU reference,
// backward against central finite differences, on shapes that do not divide the tiles, T = 1, head dims
// that are not multiples of 4, GQA and both layouts. Small tiles make short sequences span many blocks.
import { describe, expect, it } from 'vitest';
import {
  type FlashTiles,
  flashFor,
  flashTilesProblem,
  flashWorkgroupBytes,
} from '../../../src/ops/llm/flash-attention.js';
import { flashAttention as tun } from '../../../src/tunables.js';
import { type AttentionCase, checkAttention } from '../../helpers/attention-check.js';
import { useGpu } from '../../helpers/gpu.js';

const getGpu = useGpu();

/** 32 invocations: 16 query rows x 32 keys forward, 16 keys x 32 rows in dk / dv. */
const TINY: FlashTiles = {
  wg: 32,
  forward: { bq: 16, bk: 32 },
  dq: { bq: 16, bk: 32 },
  dkdv: { bkv: 16, bq: 32 },
  ct: 8,
};
/** 64 invocations with different block shapes per kernel (dq 16 x 64, dk / dv 32 x 32). */
const MIXED: FlashTiles = {
  wg: 64,
  forward: { bq: 32, bk: 32 },
  dq: { bq: 16, bk: 64 },
  dkdv: { bkv: 32, bq: 32 },
  ct: 16,
};

async function check(c: AttentionCase, tiles: FlashTiles | undefined, gradSamples = 120) {
  await checkAttention(await getGpu(), c, { variant: 'flash', flashTiles: tiles }, gradSamples);
}

describe('flash attention (discrete-GPU kernels)', () => {
  it.each<[AttentionCase, FlashTiles]>([
    [{ B: 1, Hq: 3, Hkv: 1, T: 7, D: 6, layout: 'bhtd' }, TINY],
    [{ B: 2, Hq: 4, Hkv: 2, T: 1, D: 6, layout: 'bthd' }, TINY],
    [{ B: 1, Hq: 2, Hkv: 2, T: 40, D: 8, layout: 'bhtd' }, TINY],
    [{ B: 1, Hq: 2, Hkv: 2, T: 40, D: 8, layout: 'bhtd', causal: false }, MIXED],
    [{ B: 2, Hq: 3, Hkv: 3, T: 13, D: 10, layout: 'bthd', causal: false }, TINY],
    [{ B: 1, Hq: 4, Hkv: 1, T: 67, D: 64, layout: 'bthd' }, MIXED],
    [{ B: 1, Hq: 2, Hkv: 1, T: 33, D: 5, layout: 'bhtd' }, TINY],
    [{ B: 1, Hq: 6, Hkv: 2, T: 50, D: 36, layout: 'bthd' }, MIXED],
  ])('%j on small tiles %#', async (c, tiles) => {
    await check(c, tiles, c.D * c.T > 1000 ? 40 : 120);
  });

  it.each<AttentionCase>([
    { B: 1, Hq: 2, Hkv: 1, T: 70, D: 64, layout: 'bthd' },
    { B: 1, Hq: 2, Hkv: 2, T: 9, D: 128, layout: 'bhtd', causal: false },
  ])('%j on the production tiles', async (c) => {
    await check(c, undefined, 30);
  });
});

describe('flash attention choice (pure)', () => {
  it('runs on GPUs where the tiles fit, never on CPU adapters unless forced', () => {
    expect(flashFor('t', 'auto', false, 32768, 128, {})).toBe(tun);
    expect(flashFor('t', 'auto', true, 32768, 128, {})).toBeUndefined();
    expect(flashFor('t', 'gpu', true, 32768, 64, {})).toBe(tun);
    expect(flashFor('t', 'auto', false, 32768, 64, { variant: 'plain' })).toBeUndefined();
    // Head dim 256 does not fit 32 KiB with these tiles: auto keeps the plain kernels, forcing is an error.
    expect(flashWorkgroupBytes(tun, 256)).toBeGreaterThan(32768);
    expect(flashFor('t', 'auto', false, 32768, 256, {})).toBeUndefined();
    expect(() => flashFor('t', 'auto', false, 32768, 256, { variant: 'flash' })).toThrow(
      /head dim 256 needs \d+ bytes of workgroup memory; the adapter has 32768/,
    );
  });

  it('the tunables and the test tiles satisfy the shaders, and bad tiles are named', () => {
    for (const t of [tun, TINY, MIXED]) expect(flashTilesProblem(t)).toBeUndefined();
    expect(flashWorkgroupBytes(tun, 128)).toBeLessThanOrEqual(32768);
    expect(flashTilesProblem({ ...TINY, forward: { bq: 16, bk: 16 } })).toMatch(/4 x 4 per invocation/);
    expect(flashTilesProblem({ ...TINY, ct: 3 })).toMatch(/must divide wg/);
  });
});
