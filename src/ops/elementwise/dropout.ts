import dropoutWgsl from '../../../shaders/dropout.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { cnn as tun } from '../../tunables.js';
import { expectDType } from '../util.js';
import { elementGrid } from './elementwise-grid.js';

export interface DropoutOptions {
  /** Probability of zeroing an element, 0 <= p <= 1 (PyTorch's `p`). */
  readonly p: number;
  /** Any u32: the same (seed, stream) gives the same mask on every device. */
  readonly seed: number;
  /** A u32 telling apart the dropout layers of one forward pass (default 0). */
  readonly stream?: number;
}

const MASK_BITS = 24;

const params = uniforms({
  n: 'u32',
  step: 'u32',
  seed: 'u32',
  stream: 'u32',
  /** Keep an element when its 24-bit hash is >= threshold. */
  threshold: 'u32',
  scale: 'f32',
});

function checkU32(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new ShapeError('dropout', `${name} must be an integer in [0, 2^32), got ${v}`);
  }
  return v;
}

/** Elements whose 24-bit hash is below this are dropped: round(p * 2^24). */
export function dropoutThreshold(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new ShapeError('dropout', `p must be in [0, 1], got ${p}`);
  return Math.round(p * 2 ** MASK_BITS);
}

/**
 * Inverted dropout as PyTorch trains it: each element of x is zeroed with probability p and the others are
 * scaled by 1 / (1 - p). The mask is a hash of (seed, stream, element index), not stored: the backward
 * pass is `dropoutBackward` with the same options. p = 0 copies x; p = 1 gives zeros.
 */
export function dropout(gpu: Gpu, x: Tensor, opts: DropoutOptions): Tensor {
  expectDType('dropout', x, 'f32');
  const threshold = dropoutThreshold(opts.p);
  const seed = checkU32('seed', opts.seed);
  const stream = checkU32('stream', opts.stream ?? 0);
  const out = gpu.empty(x.shape);
  if (out.size === 0) return out;
  const { workgroups, step } = elementGrid(gpu, out.size);
  gpu.dispatch({
    kernel: { name: 'dropout', template: dropoutWgsl, defines: { WG: tun.workgroupSize }, params },
    buffers: [x, out],
    uniforms: { n: out.size, step, seed, stream, threshold, scale: opts.p >= 1 ? 0 : 1 / (1 - opts.p) },
    workgroups,
  });
  return out;
}

/** dx of dropout from dy: the same mask and scale (dropout is linear in x). */
export function dropoutBackward(gpu: Gpu, dy: Tensor, opts: DropoutOptions): Tensor {
  return dropout(gpu, dy, opts);
}
