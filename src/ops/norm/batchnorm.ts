import batchnormWgsl from '../../../shaders/batchnorm.wgsl';
import channelReduceWgsl from '../../../shaders/channel-reduce.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { cnn as tun } from '../../tunables.js';
import { elementGrid } from '../elementwise/elementwise-grid.js';
import { foldSlices } from '../reduce/fold.js';
import { expectDType, grid2d, sameShape } from '../util.js';

/** Uniforms of batchnorm.wgsl (normalise, update, backward). */
const params = uniforms({
  total: 'u32',
  stride: 'u32',
  eps: 'f32',
  momentum: 'f32',
  count: 'f32',
  varOffset: 'u32',
});

/** Uniforms of channel-reduce.wgsl (per-channel sums, squared deviations, backward sums). */
const reduceParams = uniforms({
  n: 'u32',
  c: 'u32',
  hw: 'u32',
  nPerSlice: 'u32',
  slices: 'u32',
  gridX: 'u32',
  eps: 'f32',
});

/** Channel-reduction workgroups that keep the device busy before the batch is not split further. */
const BUSY = { cpu: 32, gpu: 1024 };

type ChannelMode = 'sum' | 'sqdev' | 'bwd';

/**
 * Steps of the elementwise batch-norm pass over `size` elements of planes of `hw`: vec4 within a plane
 * (HW % 4 = 0), four consecutive scalars spanning at most two planes (QUAD), or one scalar per step.
 */
export function elementSteps(size: number, hw: number): { vec4: boolean; quad: boolean; total: number } {
  const vec4 = hw % 4 === 0;
  const quad = !vec4 && hw >= 4 && size % 4 === 0;
  return { vec4, quad, total: vec4 || quad ? size / 4 : size };
}

function nchw(op: string, x: Tensor): [number, number, number] {
  expectDType(op, x, 'f32');
  if (x.shape.length !== 4) throw new ShapeError(op, `expected [N, C, H, W], got [${x.shape.join(', ')}]`);
  const [n, c, h, w] = x.shape;
  return [n, c, h * w];
}

/**
 * First pass of the per-channel sums over batch and positions: one workgroup per (channel, batch slice)
 * folds its slice in a fixed order into part [slices, outs * C] (outs = 2 for 'bwd': sum dy, then
 * sum dy xhat). foldSlices adds the slices in order: deterministic, no atomics.
 */
function channelPartials(
  gpu: Gpu,
  mode: ChannelMode,
  x: Tensor,
  extra: { dy?: Tensor; stats?: Tensor; mask?: Tensor; eps?: number } = {},
): { part: Tensor; slices: number; c: number } {
  const [n, c, hw] = nchw('channel-reduce', x);
  const outs = mode === 'bwd' ? 2 : 1;
  const busy = gpu.adapter.isCpu ? BUSY.cpu : BUSY.gpu;
  const slices0 = Math.max(1, Math.min(n, Math.ceil(busy / c)));
  const nPerSlice = Math.ceil(n / slices0);
  const slices = Math.ceil(n / nPerSlice);
  const wg = tun.workgroupSize;
  const [gx, gy] = grid2d(c * slices);
  const part = gpu.empty([slices, outs * c], 'f32', 'channel-reduce partials');
  const buffers: Tensor[] = [x];
  if (mode === 'bwd') buffers.push(extra.dy as Tensor);
  if (mode !== 'sum') buffers.push(extra.stats as Tensor);
  if (extra.mask) buffers.push(extra.mask);
  buffers.push(part);
  gpu.dispatch({
    kernel: {
      name: 'channel-reduce',
      template: channelReduceWgsl,
      defines: {
        WG: wg,
        VEC4: hw % 4 === 0,
        SQDEV: mode === 'sqdev',
        BWD: mode === 'bwd',
        CENTERED: mode !== 'sum',
        MASK: !!extra.mask,
      },
      params: reduceParams,
    },
    buffers,
    uniforms: { n, c, hw, nPerSlice, slices, gridX: gx, eps: extra.eps ?? 0 },
    workgroups: [gx, gy],
  });
  return { part, slices, c };
}

/** Per-channel sum of an NCHW tensor over batch and positions: [C] (deterministic). */
export function channelSum(gpu: Gpu, x: Tensor): Tensor {
  const [n, c, hw] = nchw('channelSum', x);
  const out = gpu.empty([c]);
  if (c === 0) return out;
  if (n * hw === 0) return gpu.zeros([c]);
  const { part, slices } = channelPartials(gpu, 'sum', x);
  foldSlices(gpu, part, slices, out);
  part.dispose();
  return out;
}

export interface BatchNormParams {
  /** Scale [C]. */
  weight: Tensor;
  /** Shift [C]. */
  bias: Tensor;
  /** Running mean [C]: read in eval mode, updated in place in training. */
  runningMean: Tensor;
  /** Running variance [C] (unbiased, as PyTorch keeps it). */
  runningVar: Tensor;
}

export interface BatchNormOptions {
  /** Default 1e-5, as PyTorch. */
  eps?: number;
  /** Weight of the new batch statistic in the running averages; default 0.1, as PyTorch. */
  momentum?: number;
  /** Apply ReLU to the output (BN followed by ReLU in one pass; backward is reluBackward on the output). */
  relu?: boolean;
  /**
   * Added to the normalised output before the ReLU: relu(bn(x) + residual), the end of a ResNet block in
   * one pass. Backward: reluBackward on the output gives the gradient of both bn(x) and the residual.
   */
  residual?: Tensor;
}

export interface BatchNormTrainResult {
  out: Tensor;
  /** [2, C]: the batch mean and the biased batch variance, what batchNorm2dBackward needs. */
  stats: Tensor;
}

function checkParams(op: string, c: number, p: BatchNormParams): void {
  for (const [name, t] of Object.entries(p) as [string, Tensor][]) {
    if (t.dtype !== 'f32' || t.size !== c || t.shape.length !== 1) {
      throw new ShapeError(op, `${name} must be f32 [${c}], got ${t.dtype} [${t.shape.join(', ')}]`);
    }
  }
}

function normalize(
  gpu: Gpu,
  x: Tensor,
  mean: Tensor,
  variance: Tensor,
  varOffset: number,
  p: BatchNormParams,
  opts: BatchNormOptions,
  update: boolean,
  count: number,
): Tensor {
  const [, c, hw] = nchw('batchNorm2d', x);
  const res = opts.residual;
  if (res && (res.dtype !== 'f32' || !sameShape(res.shape, x.shape))) {
    throw new ShapeError(
      'batchNorm2d',
      `residual must be f32 [${x.shape.join(', ')}] like x, got ${res.dtype} [${res.shape.join(', ')}]`,
    );
  }
  const out = gpu.empty(x.shape);
  const { vec4, quad, total } = elementSteps(x.size, hw);
  // At most 8 storage buffers per pass (WebGPU's default limit): with a residual, the running statistics
  // are updated by a pass of their own (total 0: no elements, only the C update invocations).
  const pass = (elements: number, upd: boolean, withRes: boolean) => {
    const wg = tun.workgroupSize;
    const [gx, gy] = grid2d(Math.ceil(Math.max(elements, c) / wg));
    const buffers = [x, mean, variance, p.weight, p.bias, out];
    if (upd) buffers.push(p.runningMean, p.runningVar);
    if (withRes && res) buffers.push(res);
    gpu.dispatch({
      kernel: {
        name: 'batchnorm',
        template: batchnormWgsl,
        defines: {
          WG: wg,
          C: c,
          HW: hw,
          VEC4: vec4,
          QUAD: quad,
          BWD: false,
          UPDATE: upd,
          RELU: !!opts.relu,
          RESIDUAL: withRes,
          MASK: false,
          BIND_RES: upd ? 8 : 6,
          BIND_P: buffers.length,
        },
        params,
      },
      buffers,
      uniforms: {
        total: elements,
        stride: gx * gy * wg,
        eps: opts.eps ?? 1e-5,
        momentum: opts.momentum ?? 0.1,
        count,
        varOffset,
      },
      workgroups: [gx, gy],
    });
  };
  if (update && res) pass(0, true, false);
  pass(total, update && !res, !!res);
  return out;
}

/**
 * Batch norm 2-D in training mode, as PyTorch's F.batch_norm(training=True): normalises x [N, C, H, W]
 * with the batch mean and biased variance per channel, and updates runningMean / runningVar in place
 * with momentum (the variance folded in unbiased). The statistics are two-pass (mean, then the mean of
 * squared deviations), each a deterministic per-channel reduction.
 */
export function batchNorm2dTrain(
  gpu: Gpu,
  x: Tensor,
  params: BatchNormParams,
  opts: BatchNormOptions = {},
): BatchNormTrainResult {
  const op = 'batchNorm2dTrain';
  const [n, c, hw] = nchw(op, x);
  checkParams(op, c, params);
  const count = n * hw;
  if (count < 2) {
    throw new ShapeError(
      op,
      `needs more than one value per channel in training, got [${x.shape.join(', ')}]`,
    );
  }
  const stats = gpu.empty([2, c]);
  const sums = channelPartials(gpu, 'sum', x);
  foldSlices(gpu, sums.part, sums.slices, stats, { scale: 1 / count, count: c });
  sums.part.dispose();
  const dev = channelPartials(gpu, 'sqdev', x, { stats });
  foldSlices(gpu, dev.part, dev.slices, stats, { scale: 1 / count, count: c, offset: c });
  dev.part.dispose();
  const out = normalize(gpu, x, stats, stats, c, params, opts, true, count);
  return { out, stats };
}

/** Batch norm 2-D in eval mode: normalises with the running statistics. */
export function batchNorm2dEval(
  gpu: Gpu,
  x: Tensor,
  params: BatchNormParams,
  opts: Omit<BatchNormOptions, 'momentum'> = {},
): Tensor {
  const op = 'batchNorm2dEval';
  const [n, c, hw] = nchw(op, x);
  checkParams(op, c, params);
  if (x.size === 0) return gpu.empty(x.shape);
  return normalize(gpu, x, params.runningMean, params.runningVar, 0, params, opts, false, n * hw);
}

export interface BatchNormGrads {
  dx: Tensor;
  dweight: Tensor;
  dbias: Tensor;
}

/**
 * Backward of batchNorm2dTrain (training mode: the batch statistics depend on x). `stats` is the forward's
 * [2, C] mean and biased variance; `dy` is the gradient of the BN output. With `reluOutput` (the output of
 * a batch norm run with relu: true) dy is first masked where that output is not positive, so the ReLU's
 * backward costs no pass of its own. Deterministic.
 */
export function batchNorm2dBackward(
  gpu: Gpu,
  dy: Tensor,
  x: Tensor,
  weight: Tensor,
  stats: Tensor,
  opts: { eps?: number; reluOutput?: Tensor } = {},
): BatchNormGrads {
  const op = 'batchNorm2dBackward';
  const [n, c, hw] = nchw(op, x);
  expectDType(op, dy, 'f32');
  for (const [name, t] of [
    ['dy', dy],
    ['reluOutput', opts.reluOutput],
  ] as const) {
    if (t && (t.dtype !== 'f32' || !sameShape(t.shape, x.shape))) {
      throw new ShapeError(op, `${name} [${t.shape.join(', ')}] must match x [${x.shape.join(', ')}]`);
    }
  }
  if (weight.size !== c || weight.shape.length !== 1) {
    throw new ShapeError(op, `weight must be [${c}], got [${weight.shape.join(', ')}]`);
  }
  if (stats.size !== 2 * c)
    throw new ShapeError(op, `stats must be [2, ${c}], got [${stats.shape.join(', ')}]`);
  const eps = opts.eps ?? 1e-5;
  const count = n * hw;
  const mask = opts.reluOutput;
  const dweight = gpu.empty([c]);
  const dbias = gpu.empty([c]);
  const dx = gpu.empty(x.shape);
  if (x.size === 0) return { dx, dweight, dbias };
  const { part, slices } = channelPartials(gpu, 'bwd', x, { dy, stats, mask, eps });
  foldSlices(gpu, part, slices, dbias, { n: 2 * c, count: c });
  foldSlices(gpu, part, slices, dweight, { n: 2 * c, count: c, srcOffset: c });
  part.dispose();
  const { vec4, quad, total } = elementSteps(x.size, hw);
  const { workgroups, step } = elementGrid(gpu, total);
  const buffers = [x, dy, stats, weight, dbias, dweight, dx];
  if (mask) buffers.push(mask);
  gpu.dispatch({
    kernel: {
      name: 'batchnorm',
      template: batchnormWgsl,
      defines: {
        WG: tun.workgroupSize,
        C: c,
        HW: hw,
        VEC4: vec4,
        QUAD: quad,
        BWD: true,
        MASK: !!mask,
        UPDATE: false,
        RELU: false,
        RESIDUAL: false,
        BIND_RES: 0,
        BIND_P: buffers.length,
      },
      params,
    },
    buffers,
    uniforms: { total, stride: step, eps, momentum: 0, count, varOffset: c },
    workgroups,
  });
  return { dx, dweight, dbias };
}
