import gramWgsl from '../../../shaders/gram.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { cka } from '../../tunables.js';
import { expectDType, grid2d } from '../util.js';
import { gemm } from './gemm.js';

export type GramKernel = 'syrk' | 'gemm';

/**
 * Which kernel computes X Xᵀ for x [n, p]: the symmetric one (half the work) on CPU adapters with the
 * subgroup size it is written for, when p % 4 == 0 and there are enough triangular tiles to keep the
 * cores busy; otherwise the GEMM with transB (split-K when n is small and p large). Pure, for tests.
 */
export function chooseGramKernel(
  n: number,
  p: number,
  adapter: { isCpu: boolean; subgroupSize: number },
): GramKernel {
  const { lanes, minTiles } = cka.gram;
  const tiles = Math.ceil(n / (4 * lanes));
  const ok = adapter.isCpu && adapter.subgroupSize === lanes && p % 4 === 0;
  return ok && (tiles * (tiles + 1)) / 2 >= minTiles ? 'syrk' : 'gemm';
}

const params = uniforms({
  n: 'u32',
  /** p / 4 */
  p4: 'u32',
  /** Tiles per side, ceil(n / TILE). */
  tiles: 'u32',
  gridX: 'u32',
});

/** K = X Xᵀ [n, n] for x [n, p] f32: exactly symmetric with the SYRK kernel, deterministic either way. */
export function gram(gpu: Gpu, x: Tensor, opts: { kernel?: GramKernel } = {}): Tensor {
  const name = 'gram';
  expectDType(name, x, 'f32');
  if (x.shape.length !== 2) throw new ShapeError(name, `expected [n, p], got [${x.shape.join(', ')}]`);
  const [n, p] = x.shape;
  const kernel =
    opts.kernel ?? chooseGramKernel(n, p, { isCpu: gpu.adapter.isCpu, subgroupSize: gpu.fixedSubgroupSize });
  if (kernel === 'gemm' || n === 0 || p === 0) return gemm(gpu, x, x, { transB: true });
  const { lanes } = cka.gram;
  if (p % 4 !== 0 || gpu.fixedSubgroupSize !== lanes) {
    throw new ShapeError(
      name,
      `the symmetric kernel needs p % 4 == 0 and subgroups of ${lanes} (p = ${p}, subgroup size ${gpu.fixedSubgroupSize || 'not fixed'})`,
    );
  }
  const out = gpu.empty([n, n]);
  const tiles = Math.ceil(n / (4 * lanes));
  const [gx, gy] = grid2d((tiles * (tiles + 1)) / 2);
  gpu.dispatch({
    kernel: { name: 'gram.syrk', template: gramWgsl, defines: { LANES: lanes, TILE: 4 * lanes }, params },
    buffers: [x, out],
    uniforms: { n, p4: p / 4, tiles, gridX: gx },
    workgroups: [gx, gy],
  });
  return out;
}
