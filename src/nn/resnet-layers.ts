// The layers of a ResNet (src/nn/resnet.ts) as functions of the model: a conv → BN pair and a residual
// block, forward (train or eval) and backward, and the eval path on BN folded into the convs.

import type { BatchNorm2dSpec, Conv2dSpec, ConvBn, ResidualBlockSpec, ResnetNet } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import {
  add,
  batchNorm2dBackward,
  conv2d,
  conv2dBackward,
  linear,
  maxPool2d,
  reluBackward,
  shortcutA,
  shortcutABackward,
} from '../ops/index.js';
import { bnForward, type FoldedConv, type StatsUpdate } from './conv-bn.js';
import type { ParamStore } from './params.js';
import { type BlockActivations, convOpts, type PairActivations, poolOpts } from './resnet-activations.js';

export interface ResnetContext {
  readonly gpu: Gpu;
  readonly params: ParamStore;
  readonly net: ResnetNet;
  readonly blocks: readonly ResidualBlockSpec[];
}

export function foldedConv(
  ctx: ResnetContext,
  convs: Map<string, FoldedConv>,
  conv: Conv2dSpec,
  input: Tensor,
  relu: boolean,
  residual?: Tensor,
): Tensor {
  const f = convs.get(conv.name) as FoldedConv;
  return conv2d(ctx.gpu, input, f.weight, { ...convOpts(conv), bias: f.bias, relu, residual });
}

/** The max pool of a torchvision stem (frees its input), or the input as is. */
export function stemPool(ctx: ResnetContext, h: Tensor): Tensor {
  const pool = ctx.net.stem.pool;
  if (!pool) return h;
  const p = maxPool2d(ctx.gpu, h, poolOpts(pool));
  p.indices.dispose();
  h.dispose();
  return p.out;
}

export function foldedStem(ctx: ResnetContext, x: Tensor, convs: Map<string, FoldedConv>): Tensor {
  return stemPool(ctx, foldedConv(ctx, convs, ctx.net.stem.conv, x, true));
}

export function foldedBlock(
  ctx: ResnetContext,
  b: number,
  hcur: Tensor,
  convs: Map<string, FoldedConv>,
): Tensor {
  const block = ctx.blocks[b];
  let inp = hcur;
  for (let i = 0; i < block.body.length - 1; i++) {
    const next = foldedConv(ctx, convs, block.body[i].conv, inp, true);
    if (inp !== hcur) inp.dispose();
    inp = next;
  }
  const sc = block.shortcut;
  const residual =
    sc.kind === 'identity'
      ? hcur
      : sc.kind === 'pad'
        ? shortcutA(ctx.gpu, hcur, block.output[0])
        : foldedConv(ctx, convs, sc.conv, hcur, false);
  const out = foldedConv(ctx, convs, block.body[block.body.length - 1].conv, inp, true, residual);
  if (inp !== hcur) inp.dispose();
  if (residual !== hcur) residual.dispose();
  return out;
}

/**
 * One residual block on `input` (which stays the caller's). Eval mode frees every intermediate and keeps
 * only the output, `body.at(-1).out`; train mode keeps each pair's activations for backward.
 */
export function blockForward(
  ctx: ResnetContext,
  block: ResidualBlockSpec,
  input: Tensor,
  train: boolean,
  update: StatsUpdate,
  scratch: Map<number, Tensor>,
): BlockActivations {
  const run = (spec: ConvBn, inp: Tensor, relu: boolean, residual?: Tensor) =>
    pairForward(ctx, spec, inp, train, update, scratch, relu, residual);
  const body: PairActivations[] = [];
  let inp = input;
  for (let i = 0; i < block.body.length - 1; i++) {
    const pair = run(block.body[i], inp, true);
    if (!train && inp !== input) inp.dispose();
    body.push(pair);
    inp = pair.out;
  }
  let shortcut: PairActivations | undefined;
  let residual: Tensor;
  const sc = block.shortcut;
  if (sc.kind === 'identity') residual = input;
  else if (sc.kind === 'pad') residual = shortcutA(ctx.gpu, input, block.output[0]);
  else {
    shortcut = run(sc, input, false);
    residual = shortcut.out;
  }
  const last = run(block.body[block.body.length - 1], inp, true, residual);
  if (!train && inp !== input) inp.dispose();
  body.push(last);
  if (residual !== input && (sc.kind === 'pad' || !train)) residual.dispose();
  return { body, shortcut };
}

/** The conv alone (its own bias, if any), no BN. */
export function convForward(ctx: ResnetContext, conv: Conv2dSpec, input: Tensor): Tensor {
  return conv2d(ctx.gpu, input, ctx.params.get(`${conv.name}.weight`), {
    ...convOpts(conv),
    bias: conv.bias ? ctx.params.get(`${conv.name}.bias`) : undefined,
  });
}

export function fcForward(ctx: ResnetContext, pooled: Tensor): Tensor {
  const fc = ctx.net.fc;
  return linear(
    ctx.gpu,
    pooled,
    ctx.params.get(`${fc.name}.weight`),
    fc.bias ? ctx.params.get(`${fc.name}.bias`) : undefined,
  );
}

export function bnPass(
  ctx: ResnetContext,
  bn: BatchNorm2dSpec,
  pre: Tensor,
  train: boolean,
  update: StatsUpdate,
  scratch: Map<number, Tensor>,
  relu: boolean,
  residual?: Tensor,
): { out: Tensor; stats?: Tensor } {
  return bnForward(ctx.gpu, ctx.params, bn, pre, { train, update, scratch, relu, residual });
}

export function pairForward(
  ctx: ResnetContext,
  spec: ConvBn,
  input: Tensor,
  train: boolean,
  update: StatsUpdate,
  scratch: Map<number, Tensor>,
  relu: boolean,
  residual?: Tensor,
): PairActivations {
  const { conv, bn } = spec;
  const pre = convForward(ctx, conv, input);
  const r = bnPass(ctx, bn, pre, train, update, scratch, relu, residual);
  if (!train) pre.dispose();
  return { input, pre, stats: r.stats as Tensor, out: r.out };
}

/** dInput of one conv → BN pair given the gradient of its output (masked by its ReLU when `mask`). */
export function pairBackward(
  ctx: ResnetContext,
  spec: ConvBn,
  act: PairActivations,
  dout: Tensor,
  grads: Map<string, Tensor>,
  opts: { mask: boolean; inputGrad: boolean },
): Tensor | undefined {
  const { conv, bn } = spec;
  const g = batchNorm2dBackward(ctx.gpu, dout, act.pre, ctx.params.get(`${bn.name}.weight`), act.stats, {
    eps: bn.eps,
    reluOutput: opts.mask ? act.out : undefined,
  });
  grads.set(`${bn.name}.weight`, g.dweight);
  grads.set(`${bn.name}.bias`, g.dbias);
  const c = conv2dBackward(ctx.gpu, act.input, ctx.params.get(`${conv.name}.weight`), g.dx, {
    ...convOpts(conv),
    inputGrad: opts.inputGrad,
    biasGrad: conv.bias,
  });
  g.dx.dispose();
  grads.set(`${conv.name}.weight`, c.dw);
  if (c.db) grads.set(`${conv.name}.bias`, c.db);
  return c.dx;
}

export function blockBackward(
  ctx: ResnetContext,
  block: ResidualBlockSpec,
  act: BlockActivations,
  dout: Tensor,
  grads: Map<string, Tensor>,
): Tensor {
  const gpu = ctx.gpu;
  const last = act.body.length - 1;
  const input = act.body[0].input;
  // Through the final ReLU: the gradient of both the last BN output and the shortcut.
  const g = reluBackward(gpu, dout, act.body[last].out);
  let d = g;
  for (let i = last; i >= 0; i--) {
    const next = pairBackward(ctx, block.body[i], act.body[i], d, grads, {
      mask: i !== last,
      inputGrad: true,
    });
    if (d !== g) d.dispose();
    d = next as Tensor;
  }
  const sc = block.shortcut;
  let dShort: Tensor;
  if (sc.kind === 'identity') dShort = g;
  else if (sc.kind === 'pad') dShort = shortcutABackward(gpu, g, input.shape, block.output[0]);
  else {
    dShort = pairBackward(ctx, sc, act.shortcut as PairActivations, g, grads, {
      mask: false,
      inputGrad: true,
    }) as Tensor;
  }
  const dInput = add(gpu, d, dShort);
  d.dispose();
  if (dShort !== g) dShort.dispose();
  g.dispose();
  return dInput;
}
