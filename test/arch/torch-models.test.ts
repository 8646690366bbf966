// src/arch's descriptions against the test-side PyTorch definitions of test/helpers/torch-models.ts (written
// from the published code, never read from src/): every state-dict tensor, every conv's kernel, stride,
// padding and bias, every BN's eps and momentum, every shortcut. The test-side models are themselves checked
// against the tensor lists PyTorch printed (fixtures/torch-reference.json), so neither side can drift.

import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import type { ConvBn, ModelDescription, VggClassifier } from '../../src/arch/types.js';
import {
  TORCH_BN_EPS,
  TORCH_BN_MOMENTUM,
  type TorchConvBn,
  torchConvBns,
  torchModel,
  torchTensors,
} from '../helpers/torch-models.js';
import { config, torchReference } from './helpers.js';

type Input = [number, number, number];

const CASES: [string, Record<string, unknown>, Input, VggClassifier?][] = [
  ['cifar-resnet-20-A', { architecture: 'cifar-resnet', depth: 20, shortcut: 'A' }, [1, 28, 28]],
  ['cifar-resnet-56-B', { architecture: 'cifar-resnet', depth: 56, shortcut: 'B' }, [3, 32, 32]],
  [
    'cifar-resnet-56-A pruned [9,1,4]',
    { architecture: 'cifar-resnet', depth: 56, shortcut: 'A', blocks: [9, 1, 4] },
    [3, 32, 32],
  ],
  [
    'cifar-resnet-20-B pruned [0,2,3]',
    { architecture: 'cifar-resnet', depth: 20, shortcut: 'B', blocks: [0, 2, 3] },
    [1, 28, 28],
  ],
  ['cifar-resnet-110-A', { architecture: 'cifar-resnet', depth: 110, shortcut: 'A' }, [3, 32, 32]],
  ['resnet-18', { architecture: 'resnet', depth: 18 }, [3, 224, 224]],
  ['resnet-34 pruned [1,2,3,1]', { architecture: 'resnet', depth: 34, blocks: [1, 2, 3, 1] }, [3, 64, 64]],
  ['resnet-50', { architecture: 'resnet', depth: 50 }, [3, 224, 224]],
  ['resnet-101', { architecture: 'resnet', depth: 101 }, [1, 97, 97]],
  ['vgg-11 linear', { architecture: 'vgg', depth: 11 }, [3, 32, 32], 'linear'],
  ['vgg-13 bare-linear', { architecture: 'vgg', depth: 13 }, [1, 64, 64], 'bare-linear'],
  ['vgg-16 dropout-mlp', { architecture: 'vgg', depth: 16 }, [3, 32, 32], 'dropout-mlp'],
  ['vgg-19 linear', { architecture: 'vgg', depth: 19 }, [3, 32, 32], 'linear'],
  [
    'vgg-11 pruned',
    { architecture: 'vgg', depth: 11, layers: [64, 'M', 'M', 256, 'M', 512, 'M', 512, 512, 'M'] },
    [3, 32, 32],
    'linear',
  ],
];

function describeCase(fields: Record<string, unknown>, input: Input, classifier?: VggClassifier) {
  return describeModel(config(fields, input), classifier ? { vggClassifier: classifier } : undefined);
}

/** The description's conv → BN pairs in forward order (stem, each block's body then its projection). */
function descConvBns(desc: ModelDescription): ConvBn[] {
  const net = desc.net;
  if (net.family === 'vgg') return net.features.flatMap((f) => (f.kind === 'conv' ? [f] : []));
  if (net.family !== 'resnet') throw new Error('not a CNN');
  return [
    net.stem,
    ...net.stages
      .flat()
      .flatMap((b) => [...b.body, ...(b.shortcut.kind === 'projection' ? [b.shortcut] : [])]),
  ];
}

const geometry = ({ conv, bn }: ConvBn) => ({
  conv: conv.name,
  cin: conv.inChannels,
  cout: conv.outChannels,
  kernel: conv.kernel,
  stride: conv.stride,
  padding: conv.padding,
  bias: conv.bias,
  bn: bn.name,
  channels: bn.channels,
  eps: bn.eps,
  momentum: bn.momentum,
});

const torchGeometry = ({ conv, bn }: TorchConvBn) => ({
  conv: conv.name,
  cin: conv.cin,
  cout: conv.cout,
  kernel: conv.kernel,
  stride: conv.stride,
  padding: conv.padding,
  bias: conv.bias,
  bn: bn.name,
  channels: bn.channels,
  eps: bn.eps,
  momentum: bn.momentum,
});

describe('src/arch against the test-side PyTorch definitions', () => {
  it.each(CASES)(
    '%s: same tensors, layers, BN eps/momentum and shortcuts',
    (_, fields, input, classifier) => {
      const desc = describeCase(fields, input, classifier);
      const net = torchModel(desc.config, classifier);
      expect(desc.params.map((p) => [p.key, [...p.shape], p.kind])).toEqual(
        torchTensors(net).map((t) => [t.key, t.shape, t.kind]),
      );
      expect(descConvBns(desc).map(geometry)).toEqual(torchConvBns(net).map(torchGeometry));
      for (const { bn } of descConvBns(desc)) {
        expect(bn.eps, bn.name).toBe(TORCH_BN_EPS);
        expect(bn.momentum, bn.name).toBe(TORCH_BN_MOMENTUM);
      }
      if (desc.net.family === 'resnet' && net.family === 'resnet') {
        expect(desc.net.stem.pool ? { ...desc.net.stem.pool, op: undefined } : undefined).toEqual(
          net.stem.pool ? { ...net.stem.pool, op: undefined } : undefined,
        );
        const blocks = desc.net.stages.flat();
        expect(blocks.map((b) => [b.name, b.unit])).toEqual(net.blocks.map((b) => [b.name, b.unit]));
        blocks.forEach((b, i) => {
          const s = net.blocks[i].shortcut;
          const mine = b.shortcut;
          if (s.kind === 'optionA') {
            // x[:, :, ::2, ::2] padded with planes // 4 channels on each side.
            expect(mine).toMatchObject({ kind: 'pad', stride: 2, padBefore: s.pad, padAfter: s.pad });
          } else expect(mine.kind, b.name).toBe(s.kind);
        });
        expect([desc.net.fc.name, desc.net.fc.inFeatures, desc.net.fc.outFeatures]).toEqual([
          net.fc.name,
          net.fc.inFeatures,
          net.fc.outFeatures,
        ]);
      }
      if (desc.net.family === 'vgg' && net.family === 'vgg') {
        expect(desc.net.classifier.map((l) => (l.op === 'linear' ? { ...l, bias: undefined } : l))).toEqual(
          net.classifier.map((l) => (l.op === 'linear' ? { ...l, bias: undefined } : l)),
        );
        const pools = desc.net.features.flatMap((f) => (f.kind === 'pool' ? [f.pool] : []));
        const torchPools = net.features.flatMap((f) => (f.kind === 'pool' ? [f] : []));
        expect(pools.map((p) => [p.kernel, p.stride, p.padding])).toEqual(
          torchPools.map((p) => [p.kernel, p.stride, p.padding]),
        );
      }
    },
  );

  // The test-side definitions against PyTorch itself: the state_dict() keys and shapes it printed.
  it.each([
    ['cifar-resnet-56-A-3x32x32', { architecture: 'cifar-resnet', depth: 56, shortcut: 'A' }, [3, 32, 32]],
    ['cifar-resnet-56-B-3x32x32', { architecture: 'cifar-resnet', depth: 56, shortcut: 'B' }, [3, 32, 32]],
    [
      'cifar-resnet-20-B-1x28x28-blocks-0,2,3',
      { architecture: 'cifar-resnet', depth: 20, shortcut: 'B', blocks: [0, 2, 3] },
      [1, 28, 28],
    ],
    ['resnet-18-3x224x224', { architecture: 'resnet', depth: 18 }, [3, 224, 224], undefined, 1000],
    ['resnet-50-3x224x224', { architecture: 'resnet', depth: 50 }, [3, 224, 224], undefined, 1000],
    ['vgg-16-linear-3x32x32', { architecture: 'vgg', depth: 16 }, [3, 32, 32], 'linear'],
    ['vgg-11-dropout-mlp-3x32x32-c100', { architecture: 'vgg', depth: 11 }, [3, 32, 32], 'dropout-mlp', 100],
    ['vgg-19-bare-linear-3x64x64', { architecture: 'vgg', depth: 19 }, [3, 64, 64], 'bare-linear'],
  ] as [string, Record<string, unknown>, Input, VggClassifier?, number?][])(
    'the test-side %s has the tensors PyTorch lists',
    (name, fields, input, classifier, classes = 10) => {
      const keys = torchReference(name).keys;
      expect(keys).toBeDefined();
      const net = torchModel(config(fields, input, classes), classifier);
      expect(torchTensors(net).map((t) => [t.key, t.shape])).toEqual(
        (keys ?? []).filter(([k]) => !k.endsWith('.num_batches_tracked')),
      );
    },
  );
});
