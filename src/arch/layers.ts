// Layer specs, their state-dict tensors, output shapes and MAC counts.
//
// MACs convention: one multiply-accumulate per weight use, nothing else.
//   conv2d: Cout · Hout · Wout · (Cin / groups) · K · K      linear: in_features · out_features
// Biases, BatchNorm, ReLU, pooling and residual adds are not counted. This is thop's (0.1.x) rule for
// Conv2d and Linear (`calculate_conv2d_flops`, `calculate_linear`: no bias term) without the 2 ops per
// element thop adds for BatchNorm; older thop and ptflops add one op per output for a bias and count BN,
// ReLU and pools too. Our rule gives the figures the pruning literature and torchvision publish:
// ResNet-56 125.49 M (3x32x32), ResNet-18 1.81 G, ResNet-50 4.09 G (3x224x224).

import { ArchError } from './errors.js';
import type {
  BatchNorm2dSpec,
  Conv2dSpec,
  ConvBn,
  LinearSpec,
  MaxPool2dSpec,
  ParamSpec,
  Shape3,
} from './types.js';

export function conv2d(
  name: string,
  inChannels: number,
  outChannels: number,
  kernel: number,
  stride: number,
  padding: number,
  bias: boolean,
): Conv2dSpec {
  return { op: 'conv2d', name, inChannels, outChannels, kernel, stride, padding, bias };
}

/** PyTorch's BatchNorm2d defaults: eps 1e-5, momentum 0.1. */
export function batchNorm2d(name: string, channels: number): BatchNorm2dSpec {
  return { op: 'batchnorm2d', name, channels, eps: 1e-5, momentum: 0.1 };
}

export function linear(name: string, inFeatures: number, outFeatures: number, bias = true): LinearSpec {
  return { op: 'linear', name, inFeatures, outFeatures, bias };
}

export function maxPool2d(kernel: number, stride: number, padding = 0): MaxPool2dSpec {
  return { op: 'maxpool2d', kernel, stride, padding };
}

/** floor((n + 2p - k) / s) + 1, as PyTorch's conv and (floor-mode) pool compute it. */
function outSize(n: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((n + 2 * padding - kernel) / stride) + 1;
}

/** `what` names the layer in the error when the input is too small for it. */
function spatial(input: Shape3, channels: number, k: number, s: number, p: number, what: string): Shape3 {
  const h = outSize(input[1], k, s, p);
  const w = outSize(input[2], k, s, p);
  if (h < 1 || w < 1) {
    throw new ArchError(
      `${what}: input ${input[1]}x${input[2]} is too small (kernel ${k}, stride ${s}, padding ${p} leave ${h}x${w})`,
    );
  }
  return [channels, h, w];
}

export function convOutput(conv: Conv2dSpec, input: Shape3): Shape3 {
  if (input[0] !== conv.inChannels) {
    // A bug in a description, never the user's input: the builders chain shapes themselves.
    throw new Error(`${conv.name}: input has ${input[0]} channels, the conv takes ${conv.inChannels}`);
  }
  return spatial(input, conv.outChannels, conv.kernel, conv.stride, conv.padding, conv.name);
}

export function poolOutput(pool: MaxPool2dSpec, input: Shape3, what: string): Shape3 {
  return spatial(input, input[0], pool.kernel, pool.stride, pool.padding, what);
}

export function convMacs(conv: Conv2dSpec, output: Shape3): number {
  return output[0] * output[1] * output[2] * conv.inChannels * conv.kernel * conv.kernel;
}

export function convParams(conv: Conv2dSpec): ParamSpec[] {
  const w: ParamSpec = {
    key: `${conv.name}.weight`,
    shape: [conv.outChannels, conv.inChannels, conv.kernel, conv.kernel],
    kind: 'weight',
  };
  return conv.bias ? [w, { key: `${conv.name}.bias`, shape: [conv.outChannels], kind: 'bias' }] : [w];
}

/** In PyTorch's order; `num_batches_tracked` (after these) is accepted but never required. */
export function bnParams(bn: BatchNorm2dSpec): ParamSpec[] {
  const c = [bn.channels];
  return [
    { key: `${bn.name}.weight`, shape: c, kind: 'weight' },
    { key: `${bn.name}.bias`, shape: c, kind: 'bias' },
    { key: `${bn.name}.running_mean`, shape: c, kind: 'running_mean' },
    { key: `${bn.name}.running_var`, shape: c, kind: 'running_var' },
  ];
}

export function linearParams(l: LinearSpec): ParamSpec[] {
  const w: ParamSpec = { key: `${l.name}.weight`, shape: [l.outFeatures, l.inFeatures], kind: 'weight' };
  return l.bias ? [w, { key: `${l.name}.bias`, shape: [l.outFeatures], kind: 'bias' }] : [w];
}

/** Learned parameters (weights and biases); running statistics are buffers, not parameters. */
export function countParams(params: readonly ParamSpec[]): number {
  let n = 0;
  for (const p of params) {
    if (p.kind === 'weight' || p.kind === 'bias') n += p.shape.reduce((a, d) => a * d, 1);
  }
  return n;
}

/**
 * The tensors and MACs of a group of layers (a unit, a head), gathered while a builder walks the network
 * in forward order, so that each layer's shapes are worked out once and the totals cannot drift apart.
 */
export class Tally {
  readonly params: ParamSpec[] = [];
  readonly ignoredKeys: string[] = [];
  macs = 0;

  /** Adds a conv and its BN, returning the conv's output shape. */
  convBn(layer: ConvBn, input: Shape3): Shape3 {
    const out = convOutput(layer.conv, input);
    this.params.push(...convParams(layer.conv), ...bnParams(layer.bn));
    this.ignoredKeys.push(`${layer.bn.name}.num_batches_tracked`);
    this.macs += convMacs(layer.conv, out);
    return out;
  }

  linear(l: LinearSpec): void {
    this.params.push(...linearParams(l));
    this.macs += l.inFeatures * l.outFeatures;
  }

  get paramCount(): number {
    return countParams(this.params);
  }

  get keys(): string[] {
    return this.params.map((p) => p.key);
  }
}

export function convBn(
  conv: string,
  bn: string,
  inChannels: number,
  outChannels: number,
  kernel: number,
  stride: number,
  padding: number,
  bias = false,
): ConvBn {
  return {
    conv: conv2d(conv, inChannels, outChannels, kernel, stride, padding, bias),
    bn: batchNorm2d(bn, outChannels),
  };
}
