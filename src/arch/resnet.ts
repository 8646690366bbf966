// torchvision's ImageNet ResNet (v1.5: a Bottleneck strides in its 3x3 conv): 7x7/2 stem `conv1` + `bn1`,
// 3x3/2 max pool, `layer1`..`layer4` of widths 64..512 (stride 2 from layer2 on), global average pool, `fc`.
// ResNet-18/34 use BasicBlocks, 50/101 Bottlenecks (1x1 → 3x3 → 1x1, expansion 4); a block whose stride
// or width differs from its input gets `downsample.0` (1x1 conv) and `downsample.1` (BN).

import type { ResnetConfig } from '../io/config.js';
import { convBn, maxPool2d } from './layers.js';
import { type BlockLayers, buildResidual } from './residual.js';
import type { ModelDescription, ShortcutSpec } from './types.js';

const PLANES = [64, 128, 256, 512];
const STRIDES = [1, 2, 2, 2];
const FULL_BLOCKS: Record<ResnetConfig['depth'], readonly number[]> = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
  50: [3, 4, 6, 3],
  101: [3, 4, 23, 3],
};

export function describeResnet(config: ResnetConfig): ModelDescription {
  const bottleneck = config.depth >= 50;
  const built = buildResidual({
    input: config.input_size,
    numClasses: config.num_classes,
    stem: { ...convBn('conv1', 'bn1', config.in_channels, 64, 7, 2, 3), pool: maxPool2d(3, 2, 1) },
    stages: PLANES.map((planes, s) => ({ planes, stride: STRIDES[s], blocks: config.blocks[s] })),
    block: bottleneck ? bottleneckBlock : basicBlock,
    fcName: 'fc',
  });
  const full = FULL_BLOCKS[config.depth];
  const pruned = config.blocks.some((b, i) => b !== full[i]) ? ` [blocks ${config.blocks.join(',')}]` : '';
  return {
    architecture: 'resnet',
    name: `ResNet-${config.depth}${pruned}`,
    config,
    input: config.input_size,
    numClasses: config.num_classes,
    stem: 0,
    ...built,
  };
}

function downsample(name: string, inChannels: number, outChannels: number, stride: number): ShortcutSpec {
  if (stride === 1 && inChannels === outChannels) return { kind: 'identity' };
  return {
    kind: 'projection',
    ...convBn(`${name}.downsample.0`, `${name}.downsample.1`, inChannels, outChannels, 1, stride, 0),
  };
}

function basicBlock(name: string, inChannels: number, planes: number, stride: number): BlockLayers {
  return {
    kind: 'basic',
    body: [
      convBn(`${name}.conv1`, `${name}.bn1`, inChannels, planes, 3, stride, 1),
      convBn(`${name}.conv2`, `${name}.bn2`, planes, planes, 3, 1, 1),
    ],
    shortcut: downsample(name, inChannels, planes, stride),
  };
}

function bottleneckBlock(name: string, inChannels: number, planes: number, stride: number): BlockLayers {
  const out = planes * 4;
  return {
    kind: 'bottleneck',
    body: [
      convBn(`${name}.conv1`, `${name}.bn1`, inChannels, planes, 1, 1, 0),
      convBn(`${name}.conv2`, `${name}.bn2`, planes, planes, 3, stride, 1),
      convBn(`${name}.conv3`, `${name}.bn3`, planes, out, 1, 1, 0),
    ],
    shortcut: downsample(name, inChannels, out, stride),
  };
}
