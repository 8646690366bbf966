// CIFAR-style ResNet (He et al. 2016, §4.2) as the common PyTorch code writes it (e.g. akamaster's
// pytorch_resnet_cifar10): a 3x3 stem to 16 channels, three stages of n = (depth − 2) / 6 BasicBlocks of
// widths 16, 32, 64 (stride 2 at the first block of stages 2 and 3), global average pool, `linear`.
// State dict: `conv1`, `bn1`, `layer{s}.{b}.conv1|bn1|conv2|bn2`, option B's `layer{s}.{b}.shortcut.0|1`,
// `linear`. Any input size works (e.g. 1x28x28 Fashion-MNIST): the pool averages whatever is left.

import type { CifarResnetConfig } from '../io/config.js';
import { convBn } from './layers.js';
import { type BlockLayers, buildResidual } from './residual.js';
import type { ModelDescription, ShortcutSpec } from './types.js';

const WIDTHS = [16, 32, 64];
const STRIDES = [1, 2, 2];

export function describeCifarResnet(config: CifarResnetConfig): ModelDescription {
  const built = buildResidual({
    input: config.input_size,
    numClasses: config.num_classes,
    stem: convBn('conv1', 'bn1', config.in_channels, WIDTHS[0], 3, 1, 1),
    stages: WIDTHS.map((planes, s) => ({ planes, stride: STRIDES[s], blocks: config.blocks[s] })),
    block: (name, inChannels, planes, stride) =>
      basicBlock(name, inChannels, planes, stride, config.shortcut),
    fcName: 'linear',
  });
  const full = (config.depth - 2) / 6;
  const pruned = config.blocks.some((b) => b !== full) ? ` [blocks ${config.blocks.join(',')}]` : '';
  return {
    architecture: 'cifar-resnet',
    name: `ResNet-${config.depth}${pruned}`,
    config,
    input: config.input_size,
    numClasses: config.num_classes,
    stem: 0,
    ...built,
  };
}

function basicBlock(
  name: string,
  inChannels: number,
  planes: number,
  stride: number,
  option: 'A' | 'B',
): BlockLayers {
  const body = [
    convBn(`${name}.conv1`, `${name}.bn1`, inChannels, planes, 3, stride, 1),
    convBn(`${name}.conv2`, `${name}.bn2`, planes, planes, 3, 1, 1),
  ];
  let shortcut: ShortcutSpec = { kind: 'identity' };
  if (stride !== 1 || inChannels !== planes) {
    shortcut =
      option === 'A'
        ? // The common code pads planes // 4 zero channels on each side, which is right for planes = 2 · in.
          {
            kind: 'pad',
            stride,
            padBefore: Math.floor(planes / 4),
            padAfter: planes - inChannels - Math.floor(planes / 4),
          }
        : {
            kind: 'projection',
            ...convBn(`${name}.shortcut.0`, `${name}.shortcut.1`, inChannels, planes, 1, stride, 0),
          };
  }
  return { kind: 'basic', body, shortcut };
}
