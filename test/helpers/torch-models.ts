// Test-side descriptions of the CNNs, written from their published PyTorch definitions and never read from
// src/arch, so that the whole-model references (test/nn/resnet-reference.ts, vgg-reference.ts) cannot
// share a mistake with the code under test (issue 17: an eps of 1e-3 in src/arch passed every test that
// took its BN eps from there).
//
// - CIFAR ResNet: He et al. 2016 §4.2 as akamaster/pytorch_resnet_cifar10 writes it. conv1 = Conv2d(C, 16,
//   3, stride 1, padding 1, bias=False), bn1; layer1..3 of BasicBlocks with planes 16, 32, 64, the first
//   block of layer2 and layer3 striding 2; BasicBlock: conv1 (3x3, stride s, padding 1), bn1, conv2 (3x3,
//   stride 1, padding 1), bn2, and when stride != 1 or in != planes a shortcut: option A
//   `F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4))`, option B Sequential(Conv2d 1x1
//   stride s, bias=False; BatchNorm2d) as `shortcut.0` / `shortcut.1`; global average pool; `linear`.
// - torchvision ResNet (v1.5): conv1 = Conv2d(C, 64, 7, stride 2, padding 3, bias=False), bn1, ReLU,
//   MaxPool2d(3, 2, 1); layer1..4 of planes 64..512, stride 2 from layer2; BasicBlock (expansion 1) as
//   above, Bottleneck (expansion 4) conv1 1x1, conv2 3x3 stride s padding 1, conv3 1x1; `downsample.0|1`
//   (1x1 stride-s conv, BN) when stride != 1 or in != planes · expansion; global average pool; `fc`.
// - CIFAR VGG-BN: `make_layers(cfg, batch_norm=True)`: per width v Conv2d(in, v, 3, padding 1) (bias on),
//   BatchNorm2d(v), ReLU (three Sequential indices), per 'M' MaxPool2d(2, 2) (one index); flatten C·H·W;
//   the classifier variants nn.Sequential(Linear) `classifier.0`, bare Linear `classifier`, and
//   chengyangfu's Dropout, Linear(F, 512), ReLU, Dropout, Linear(512, 512), ReLU, Linear(512, classes).
// - BatchNorm2d: PyTorch's defaults, eps 1e-5, momentum 0.1.
//
// What a test model is made of (depth, blocks kept per stage, widths list, shortcut option, channels, input
// size, classes) comes from the model's config: the user's input, not an architecture fact.

import type { ModelConfig } from '../../src/io/config.js';

/** PyTorch's BatchNorm2d defaults (torch.nn.BatchNorm2d(num_features, eps=1e-05, momentum=0.1)). */
export const TORCH_BN_EPS = 1e-5;
export const TORCH_BN_MOMENTUM = 0.1;

export interface TorchConv {
  name: string;
  cin: number;
  cout: number;
  kernel: number;
  stride: number;
  padding: number;
  bias: boolean;
}

export interface TorchBn {
  name: string;
  channels: number;
  eps: number;
  momentum: number;
}

export interface TorchConvBn {
  conv: TorchConv;
  bn: TorchBn;
}

export type TorchShortcut =
  | { kind: 'identity' }
  /** Option A: x[:, :, ::2, ::2], then `pad` zero channels on each side. */
  | { kind: 'optionA'; pad: number }
  | ({ kind: 'projection' } & TorchConvBn);

export interface TorchBlock {
  name: string;
  /** Position in the unit list (SGLP.md §0: the stem is unit 0, then every block in order). */
  unit: number;
  body: TorchConvBn[];
  shortcut: TorchShortcut;
}

export interface TorchLinear {
  name: string;
  inFeatures: number;
  outFeatures: number;
}

export interface TorchResnet {
  family: 'resnet';
  input: [number, number, number];
  classes: number;
  stem: TorchConvBn & { pool?: { kernel: number; stride: number; padding: number } };
  blocks: TorchBlock[];
  fc: TorchLinear;
}

export type TorchVggFeature =
  | ({ kind: 'conv'; unit: number } & TorchConvBn)
  | { kind: 'pool'; kernel: number; stride: number; padding: number };

export type TorchClassifierLayer =
  | ({ op: 'linear' } & TorchLinear)
  | { op: 'relu' }
  | { op: 'dropout'; p: number };

export type VggClassifierVariant = 'linear' | 'bare-linear' | 'dropout-mlp';

export interface TorchVgg {
  family: 'vgg';
  input: [number, number, number];
  classes: number;
  features: TorchVggFeature[];
  classifier: TorchClassifierLayer[];
}

export type TorchNet = TorchResnet | TorchVgg;

function conv(
  name: string,
  cin: number,
  cout: number,
  kernel: number,
  stride: number,
  padding: number,
  bias = false,
): TorchConv {
  return { name, cin, cout, kernel, stride, padding, bias };
}

function bn(name: string, channels: number): TorchBn {
  return { name, channels, eps: TORCH_BN_EPS, momentum: TORCH_BN_MOMENTUM };
}

export function cifarResnet(o: {
  depth: number;
  blocks?: readonly number[];
  shortcut: 'A' | 'B';
  inChannels: number;
  classes: number;
  input: readonly [number, number, number];
}): TorchResnet {
  const n = (o.depth - 2) / 6;
  const perStage = o.blocks ?? [n, n, n];
  const blocks: TorchBlock[] = [];
  let inPlanes = 16;
  [16, 32, 64].forEach((planes, s) => {
    for (let b = 0; b < perStage[s]; b++) {
      const stride = b === 0 && s > 0 ? 2 : 1;
      const name = `layer${s + 1}.${b}`;
      let shortcut: TorchShortcut = { kind: 'identity' };
      if (stride !== 1 || inPlanes !== planes) {
        shortcut =
          o.shortcut === 'A'
            ? { kind: 'optionA', pad: Math.floor(planes / 4) }
            : {
                kind: 'projection',
                conv: conv(`${name}.shortcut.0`, inPlanes, planes, 1, stride, 0),
                bn: bn(`${name}.shortcut.1`, planes),
              };
      }
      blocks.push({
        name,
        unit: blocks.length + 1,
        body: [
          { conv: conv(`${name}.conv1`, inPlanes, planes, 3, stride, 1), bn: bn(`${name}.bn1`, planes) },
          { conv: conv(`${name}.conv2`, planes, planes, 3, 1, 1), bn: bn(`${name}.bn2`, planes) },
        ],
        shortcut,
      });
      inPlanes = planes;
    }
  });
  return {
    family: 'resnet',
    input: [...o.input],
    classes: o.classes,
    stem: { conv: conv('conv1', o.inChannels, 16, 3, 1, 1), bn: bn('bn1', 16) },
    blocks,
    fc: { name: 'linear', inFeatures: inPlanes, outFeatures: o.classes },
  };
}

const TORCHVISION_BLOCKS: Record<number, number[]> = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
  50: [3, 4, 6, 3],
  101: [3, 4, 23, 3],
};

export function torchvisionResnet(o: {
  depth: number;
  blocks?: readonly number[];
  inChannels: number;
  classes: number;
  input: readonly [number, number, number];
}): TorchResnet {
  const bottleneck = o.depth >= 50;
  const expansion = bottleneck ? 4 : 1;
  const perStage = o.blocks ?? TORCHVISION_BLOCKS[o.depth];
  const blocks: TorchBlock[] = [];
  let inPlanes = 64;
  [64, 128, 256, 512].forEach((planes, s) => {
    for (let b = 0; b < perStage[s]; b++) {
      const stride = b === 0 && s > 0 ? 2 : 1;
      const name = `layer${s + 1}.${b}`;
      const out = planes * expansion;
      const pair = (i: number, cin: number, cout: number, k: number, st: number, p: number) => ({
        conv: conv(`${name}.conv${i}`, cin, cout, k, st, p),
        bn: bn(`${name}.bn${i}`, cout),
      });
      const body = bottleneck
        ? [
            pair(1, inPlanes, planes, 1, 1, 0),
            pair(2, planes, planes, 3, stride, 1),
            pair(3, planes, out, 1, 1, 0),
          ]
        : [pair(1, inPlanes, planes, 3, stride, 1), pair(2, planes, planes, 3, 1, 1)];
      const shortcut: TorchShortcut =
        stride !== 1 || inPlanes !== out
          ? {
              kind: 'projection',
              conv: conv(`${name}.downsample.0`, inPlanes, out, 1, stride, 0),
              bn: bn(`${name}.downsample.1`, out),
            }
          : { kind: 'identity' };
      blocks.push({ name, unit: blocks.length + 1, body, shortcut });
      inPlanes = out;
    }
  });
  return {
    family: 'resnet',
    input: [...o.input],
    classes: o.classes,
    stem: {
      conv: conv('conv1', o.inChannels, 64, 7, 2, 3),
      bn: bn('bn1', 64),
      pool: { kernel: 3, stride: 2, padding: 1 },
    },
    blocks,
    fc: { name: 'fc', inFeatures: inPlanes, outFeatures: o.classes },
  };
}

const VGG_CFG: Record<number, (number | 'M')[]> = {
  11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M'],
};

export function cifarVgg(o: {
  depth: number;
  layers?: readonly (number | 'M')[];
  inChannels: number;
  classes: number;
  input: readonly [number, number, number];
  classifier?: VggClassifierVariant;
}): TorchVgg {
  const features: TorchVggFeature[] = [];
  let index = 0;
  let cin = o.inChannels;
  let [h, w] = [o.input[1], o.input[2]];
  let unit = 0;
  for (const v of o.layers ?? VGG_CFG[o.depth]) {
    if (v === 'M') {
      features.push({ kind: 'pool', kernel: 2, stride: 2, padding: 0 });
      [h, w] = [Math.floor(h / 2), Math.floor(w / 2)];
      index += 1;
      continue;
    }
    features.push({
      kind: 'conv',
      unit: unit++,
      conv: conv(`features.${index}`, cin, v, 3, 1, 1, true),
      bn: bn(`features.${index + 1}`, v),
    });
    cin = v;
    index += 3; // Conv2d, BatchNorm2d, ReLU
  }
  const flat = cin * h * w;
  const lin = (name: string, inFeatures: number, outFeatures: number): TorchClassifierLayer => ({
    op: 'linear',
    name,
    inFeatures,
    outFeatures,
  });
  const classifier: TorchClassifierLayer[] =
    o.classifier === 'dropout-mlp'
      ? [
          { op: 'dropout', p: 0.5 },
          lin('classifier.1', flat, 512),
          { op: 'relu' },
          { op: 'dropout', p: 0.5 },
          lin('classifier.4', 512, 512),
          { op: 'relu' },
          lin('classifier.6', 512, o.classes),
        ]
      : [lin(o.classifier === 'bare-linear' ? 'classifier' : 'classifier.0', flat, o.classes)];
  return { family: 'vgg', input: [...o.input], classes: o.classes, features, classifier };
}

/** The PyTorch model a CNN config describes (VGG: with `classifier`, which config.json cannot say). */
export function torchModel(config: ModelConfig, classifier?: VggClassifierVariant): TorchNet {
  if (config.kind !== 'cnn') throw new Error(`torchModel: not a CNN config (${config.architecture})`);
  const common = {
    inChannels: config.in_channels,
    classes: config.num_classes,
    input: config.input_size,
  } as const;
  switch (config.architecture) {
    case 'cifar-resnet':
      return cifarResnet({
        ...common,
        depth: config.depth,
        blocks: config.blocks,
        shortcut: config.shortcut,
      });
    case 'resnet':
      return torchvisionResnet({ ...common, depth: config.depth, blocks: config.blocks });
    case 'vgg':
      return cifarVgg({ ...common, depth: config.depth, layers: config.layers, classifier });
  }
}

export interface TorchTensor {
  key: string;
  shape: number[];
  kind: 'weight' | 'bias' | 'running_mean' | 'running_var';
}

/** Every tensor of state_dict() in PyTorch's order, without `num_batches_tracked`. */
export function torchTensors(net: TorchNet): TorchTensor[] {
  const out: TorchTensor[] = [];
  const convBn = ({ conv: c, bn: b }: TorchConvBn) => {
    out.push({ key: `${c.name}.weight`, shape: [c.cout, c.cin, c.kernel, c.kernel], kind: 'weight' });
    if (c.bias) out.push({ key: `${c.name}.bias`, shape: [c.cout], kind: 'bias' });
    out.push({ key: `${b.name}.weight`, shape: [b.channels], kind: 'weight' });
    out.push({ key: `${b.name}.bias`, shape: [b.channels], kind: 'bias' });
    out.push({ key: `${b.name}.running_mean`, shape: [b.channels], kind: 'running_mean' });
    out.push({ key: `${b.name}.running_var`, shape: [b.channels], kind: 'running_var' });
  };
  const linear = (l: TorchLinear) => {
    out.push({ key: `${l.name}.weight`, shape: [l.outFeatures, l.inFeatures], kind: 'weight' });
    out.push({ key: `${l.name}.bias`, shape: [l.outFeatures], kind: 'bias' });
  };
  if (net.family === 'resnet') {
    convBn(net.stem);
    for (const b of net.blocks) {
      for (const pair of b.body) convBn(pair);
      if (b.shortcut.kind === 'projection') convBn(b.shortcut);
    }
    linear(net.fc);
  } else {
    for (const f of net.features) if (f.kind === 'conv') convBn(f);
    for (const l of net.classifier) if (l.op === 'linear') linear(l);
  }
  return out;
}

/** Every conv → BN pair of the net, in forward order. */
export function torchConvBns(net: TorchNet): TorchConvBn[] {
  if (net.family === 'vgg') return net.features.filter((f) => f.kind === 'conv');
  return [
    net.stem,
    ...net.blocks.flatMap((b) => [...b.body, ...(b.shortcut.kind === 'projection' ? [b.shortcut] : [])]),
  ];
}

/** A copy of `net` whose every BN has `eps` (to show what a wrong eps would do to a reference). */
export function withBnEps<T extends TorchNet>(net: T, eps: number): T {
  const copy = structuredClone(net);
  for (const { bn } of torchConvBns(copy)) bn.eps = eps;
  return copy;
}
