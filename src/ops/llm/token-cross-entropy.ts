import rowReduceWgsl from '../../../shaders/lib/row-reduce.wgsl';
import ceWgsl from '../../../shaders/token-ce.wgsl';
import type { Gpu } from '../../gpu/device.js';
import { ShapeError } from '../../gpu/errors.js';
import type { Tensor } from '../../gpu/tensor.js';
import { uniforms } from '../../gpu/uniforms.js';
import { llm as tun } from '../../tunables.js';
import { expectDType, grid2d } from '../util.js';

/** Hugging Face's ignore index; any negative target is ignored. */
export const IGNORE_INDEX = -100;

/**
 * Validates targets (integers in [0, vocab), or negative = ignored) and uploads them as i32. `count` is the
 * number of counted rows.
 */
export function uploadTargets(
  gpu: Gpu,
  targets: ArrayLike<number>,
  vocab: number,
): { targets: Tensor; count: number } {
  const t = new Int32Array(targets.length);
  let count = 0;
  for (let i = 0; i < targets.length; i++) {
    const v = targets[i];
    if (!Number.isInteger(v) || v >= vocab) {
      throw new ShapeError(
        'uploadTargets',
        `target ${i} is ${v}, expected an integer below ${vocab} (negative = ignored)`,
      );
    }
    t[i] = v < 0 ? IGNORE_INDEX : v;
    if (v >= 0) count++;
  }
  return { targets: gpu.tensor(t, [t.length], 'i32'), count };
}

/**
 * Next-token targets for windows of token ids [batch, seq]: target[b, t] = ids[b, t + 1], and the last
 * position of each window is ignored (so the mean NLL covers tokens 2..seq of each window).
 */
export function nextTokenTargets(ids: ArrayLike<number>, batch: number, seq: number): Int32Array {
  if (ids.length !== batch * seq)
    throw new ShapeError('nextTokenTargets', `${ids.length} ids for [${batch}, ${seq}]`);
  const out = new Int32Array(batch * seq);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < seq; t++) out[b * seq + t] = t + 1 < seq ? ids[b * seq + t + 1] : IGNORE_INDEX;
  }
  return out;
}

export interface TokenCrossEntropy {
  /** [mean NLL over counted rows (0 if none), counted rows, sum of NLL]. */
  loss: Tensor;
  /** Natural log-sum-exp of each row's logits [rows]. */
  lse: Tensor;
  /** NLL per row, 0 for ignored rows [rows]. */
  nll: Tensor;
}

/** One declaration for the four passes of token-ce.wgsl; a pass gives 0 for what it does not read. */
const params = uniforms({
  rows: 'u32',
  vocab: 'u32',
  /** Logits per workgroup of the stats pass, and chunks per row. */
  chunk: 'u32',
  chunks: 'u32',
  gridX: 'u32',
  /** Gradient: scale per counted row, divided by the counted rows when `mean` is 1. */
  scale: 'f32',
  mean: 'u32',
  /** Vocabulary slices (token-ce.wgsl): Part chunk offset and row length, the slice's first column, the whole vocabulary. */
  chunk0: 'u32',
  stride: 'u32',
  v0: 'u32',
  total: 'u32',
});

const includes = { 'row-reduce': rowReduceWgsl };

function dims(op: string, logits: Tensor, targets: Tensor): { rows: number; vocab: number } {
  expectDType(op, logits, 'f32');
  expectDType(op, targets, 'i32');
  const vocab = logits.shape.at(-1) ?? 0;
  if (logits.shape.length < 2 || vocab === 0) {
    throw new ShapeError(op, `logits must be [..., vocab] with vocab > 0, got [${logits.shape.join(', ')}]`);
  }
  const rows = logits.size / vocab;
  if (targets.size !== rows) throw new ShapeError(op, `${rows} rows of logits but ${targets.size} targets`);
  return { rows, vocab };
}

/** Columns one statistics workgroup folds on this adapter (slices of the vocabulary align to it). */
export function vocabChunk(gpu: Gpu): number {
  return gpu.adapter.isCpu ? tun.vocabChunk.cpu : tun.vocabChunk.gpu;
}

const passMode = (m: string) => ({
  STATS: m === 'stats',
  FINISH: m === 'finish',
  LOSS: m === 'loss',
  IN_PLACE: false,
});

/**
 * The statistics pass over logits [rows, vocab] (columns v0.. of a larger vocabulary when sliced): per
 * (row, chunk) max and sum of exp into `part` [rows, stride, 2] at chunk `chunk0` of each row.
 */
export function tokenCeStats(
  gpu: Gpu,
  logits: Tensor,
  part: Tensor,
  at: { chunk0: number; stride: number } = { chunk0: 0, stride: 0 },
): void {
  const vocab = logits.shape.at(-1) ?? 0;
  const rows = logits.size / vocab;
  const chunk = vocabChunk(gpu);
  const chunks = Math.ceil(vocab / chunk);
  const stride = at.stride || chunks;
  if (part.size < rows * stride * 2 || at.chunk0 + chunks > stride) {
    throw new ShapeError('tokenCeStats', `${chunks} chunks at ${at.chunk0} do not fit rows of ${stride}`);
  }
  const wg = gpu.adapter.isCpu ? tun.rowWorkgroup.cpu : tun.rowWorkgroup.gpu;
  const [sx, sy] = grid2d(rows * chunks);
  gpu.dispatch({
    kernel: {
      name: 'token-ce.stats',
      template: ceWgsl,
      defines: { WG: wg, ...passMode('stats') },
      params,
      includes,
    },
    buffers: [logits, part],
    uniforms: { ...zero, rows, vocab, chunk, chunks, gridX: sx, chunk0: at.chunk0, stride },
    workgroups: [sx, sy],
  });
}

/**
 * The finishing pass: each row's chunks of `part` [rows, chunks, 2] folded in order into `lse` [rows], and
 * `nll` [rows] = lse - logit[target] for targets in the columns v0 .. v0 + vocab of `logits` (0 otherwise).
 */
export function tokenCeFinish(
  gpu: Gpu,
  logits: Tensor,
  part: Tensor,
  targets: Tensor,
  out: { lse: Tensor; nll: Tensor },
  slice: { chunks: number; v0: number } | undefined = undefined,
): void {
  const vocab = logits.shape.at(-1) ?? 0;
  const rows = logits.size / vocab;
  const chunks = slice?.chunks ?? Math.ceil(vocab / vocabChunk(gpu));
  const ewg = tun.elementWorkgroup;
  const [fx, fy] = grid2d(Math.ceil(rows / ewg));
  gpu.dispatch({
    kernel: {
      name: 'token-ce.finish',
      template: ceWgsl,
      defines: { WG: ewg, ...passMode('finish') },
      params,
      includes,
    },
    buffers: [logits, part, targets, out.lse, out.nll],
    uniforms: { ...zero, rows, vocab, chunk: vocabChunk(gpu), chunks, gridX: fx, v0: slice?.v0 ?? 0 },
    workgroups: [fx, fy],
  });
}

/** The loss pass: [mean NLL over counted rows (targets in [0, vocab)), count, sum] of `nll` [rows]. */
export function tokenCeLoss(gpu: Gpu, nll: Tensor, targets: Tensor, vocab: number): Tensor {
  const rows = nll.size;
  if (rows === 0) return gpu.zeros([3]);
  const loss = gpu.empty([3]);
  const wg = gpu.adapter.isCpu ? tun.rowWorkgroup.cpu : tun.rowWorkgroup.gpu;
  gpu.dispatch({
    kernel: {
      name: 'token-ce.loss',
      template: ceWgsl,
      defines: { WG: wg, ...passMode('loss') },
      params,
      includes,
    },
    buffers: [nll, targets, loss],
    uniforms: { ...zero, rows, vocab, chunk: vocabChunk(gpu), chunks: 0, gridX: 1 },
    workgroups: [1],
  });
  return loss;
}

const zero = { chunk0: 0, stride: 0, v0: 0, total: 0, scale: 0, mean: 0 };

/**
 * Mean token NLL, chunked over the vocabulary: per-(row, chunk) max and sum of exp, folded per row in order
 * into the log-sum-exp. Nothing of size rows x vocab is allocated besides the logits. The logits must fit
 * one storage binding (128 MiB on lavapipe: 256 rows of a 128k vocabulary); larger batches are computed
 * in row slices whose `loss[2]` sums (or `nll` rows) the caller adds up, and larger vocabularies in
 * column slices with the passes above (src/nn/llama-head-sliced.ts).
 */
export function tokenCrossEntropy(gpu: Gpu, logits: Tensor, targets: Tensor): TokenCrossEntropy {
  const { rows, vocab } = dims('tokenCrossEntropy', logits, targets);
  const chunks = Math.ceil(vocab / vocabChunk(gpu));
  const lse = gpu.empty([rows]);
  const nll = gpu.empty([rows]);
  if (rows === 0) return { loss: gpu.zeros([3]), lse, nll };
  const part = gpu.empty([rows, chunks, 2]);
  tokenCeStats(gpu, logits, part);
  tokenCeFinish(gpu, logits, part, targets, { lse, nll });
  part.dispose();
  return { loss: tokenCeLoss(gpu, nll, targets, vocab), lse, nll };
}

export interface TokenCrossEntropyBackwardOptions {
  /**
   * Gradient scale per counted row. Default: 1 / (counted rows of this call), read on the device from the
   * forward's loss, i.e. the gradient of the mean NLL. Row-sliced batches pass 1 / (total counted rows).
   */
  scale?: number;
  /** Write the gradient over the logits (no second rows x vocab buffer); returns the logits tensor. */
  inPlace?: boolean;
  /**
   * The logits are columns v0 .. v0 + vocab of a `total`-column vocabulary (a slice of the LM head); `lse`
   * is the whole row's. Default: the whole vocabulary.
   */
  slice?: { v0: number; total: number };
}

/** dLoss/dlogits = (softmax - onehot(target)) * scale for counted rows, 0 for ignored rows. */
export function tokenCrossEntropyBackward(
  gpu: Gpu,
  logits: Tensor,
  targets: Tensor,
  forward: Pick<TokenCrossEntropy, 'lse' | 'loss'>,
  opts: TokenCrossEntropyBackwardOptions = {},
): Tensor {
  const { rows, vocab } = dims('tokenCrossEntropyBackward', logits, targets);
  if (forward.lse.size !== rows)
    throw new ShapeError('tokenCrossEntropyBackward', `lse has ${forward.lse.size} rows, logits ${rows}`);
  const inPlace = opts.inPlace ?? false;
  const out = inPlace ? logits : gpu.empty(logits.shape);
  if (logits.size === 0) return out;
  const wg = tun.elementWorkgroup;
  const [gx, gy] = grid2d(Math.ceil(logits.size / wg));
  const mean = opts.scale === undefined;
  gpu.dispatch({
    kernel: {
      name: 'token-ce.grad',
      template: ceWgsl,
      defines: { WG: wg, STATS: false, FINISH: false, LOSS: false, IN_PLACE: inPlace },
      params,
      includes,
    },
    buffers: inPlace
      ? [logits, forward.lse, targets, forward.loss]
      : [logits, forward.lse, targets, forward.loss, out],
    uniforms: {
      ...zero,
      rows,
      vocab,
      chunk: 0,
      chunks: 0,
      gridX: gx,
      scale: opts.scale ?? 1,
      mean: mean ? 1 : 0,
      v0: opts.slice?.v0 ?? 0,
      total: opts.slice?.total ?? vocab,
    },
    workgroups: [gx, gy],
  });
  return out;
}
