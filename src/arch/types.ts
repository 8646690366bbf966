// What an architecture description says: the state-dict tensors a checkpoint must hold, the layers in the
// order a forward pass runs them, and the prunable units of docs/method.md §0 with their shapes, params and MACs.
// Descriptions are plain data (no GPU, no weights), so the nn/ layers, the pruner and the report share them.

import type { CifarResnetConfig, CnnConfig, LlmConfig, ResnetConfig, VggConfig } from '../io/config.js';
import type { LlamaNet } from './llama.js';

/** [channels, height, width] of one sample (the batch dimension is left out). */
export type Shape3 = readonly [number, number, number];

/** Learned tensors are `weight`/`bias`; BN running statistics are buffers and are not counted as params. */
export type ParamKind = 'weight' | 'bias' | 'running_mean' | 'running_var';

/** One tensor of the state dict, as PyTorch names and shapes it. */
export interface ParamSpec {
  readonly key: string;
  readonly shape: readonly number[];
  readonly kind: ParamKind;
}

/** Square kernel, same stride and zero padding on both axes, groups = 1, dilation = 1. */
export interface Conv2dSpec {
  readonly op: 'conv2d';
  /** State-dict prefix: `<name>.weight`, `<name>.bias`. */
  readonly name: string;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: number;
  readonly stride: number;
  readonly padding: number;
  readonly bias: boolean;
}

/** BatchNorm2d with PyTorch's defaults (affine, tracked running stats). */
export interface BatchNorm2dSpec {
  readonly op: 'batchnorm2d';
  readonly name: string;
  readonly channels: number;
  readonly eps: number;
  /** Weight of the new batch statistic in the running average, PyTorch's convention. */
  readonly momentum: number;
}

export interface LinearSpec {
  readonly op: 'linear';
  readonly name: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly bias: boolean;
}

/** MaxPool2d, floor mode (ceil_mode=False), padding with -inf. */
export interface MaxPool2dSpec {
  readonly op: 'maxpool2d';
  readonly kernel: number;
  readonly stride: number;
  readonly padding: number;
}

/** A conv followed by its BN: the building brick of every CNN here. */
export interface ConvBn {
  readonly conv: Conv2dSpec;
  readonly bn: BatchNorm2dSpec;
}

/**
 * The residual branch's partner:
 * - identity;
 * - `pad`: CIFAR option A, parameter-free: x[:, :, ::stride, ::stride], then `padBefore` zero channels in
 *   front and `padAfter` behind (the common CIFAR code pads planes//4 on each side);
 * - `projection`: option B / torchvision's downsample, a 1x1 strided conv and its BN.
 */
export type ShortcutSpec =
  | { readonly kind: 'identity' }
  | { readonly kind: 'pad'; readonly stride: number; readonly padBefore: number; readonly padAfter: number }
  | ({ readonly kind: 'projection' } & ConvBn);

/**
 * A residual block: body pairs run conv → BN → ReLU, except the last pair, whose BN output is added to the
 * shortcut before the final ReLU (PyTorch BasicBlock and Bottleneck alike).
 */
export interface ResidualBlockSpec {
  /** State-dict prefix, e.g. `layer2.0`. */
  readonly name: string;
  /** Its index in ModelDescription.units (to skip it, or capture its output, by unit). */
  readonly unit: number;
  readonly kind: 'basic' | 'bottleneck';
  readonly body: readonly ConvBn[];
  readonly shortcut: ShortcutSpec;
  readonly input: Shape3;
  readonly output: Shape3;
}

/** cifar-resnet and torchvision resnet: stem, stages of residual blocks, global average pool, linear. */
export interface ResnetNet {
  readonly family: 'resnet';
  /** conv → BN → ReLU, then the max pool where there is one (torchvision). */
  readonly stem: ConvBn & { readonly pool?: MaxPool2dSpec };
  /** stages[s] = blocks of `layer{s+1}`, possibly none (a pruned stage). */
  readonly stages: readonly (readonly ResidualBlockSpec[])[];
  /** Applied after a global average pool to 1x1 and flattening. */
  readonly fc: LinearSpec;
}

/**
 * One entry of VGG's `features` Sequential, `index` being its position there: a conv entry runs conv → BN →
 * ReLU and takes 3 indices (its unit's representation is the conv output, docs/method.md §1); a pool takes 1.
 */
export type VggFeature =
  | ({
      readonly kind: 'conv';
      readonly index: number;
      /** Its index in ModelDescription.units. */
      readonly unit: number;
      readonly input: Shape3;
      readonly output: Shape3;
    } & ConvBn)
  | {
      readonly kind: 'pool';
      readonly index: number;
      readonly pool: MaxPool2dSpec;
      readonly input: Shape3;
      readonly output: Shape3;
    };

/** Entries of VGG's `classifier`; dropout is the identity in eval mode. */
export type ClassifierLayer =
  | LinearSpec
  | { readonly op: 'relu' }
  | { readonly op: 'dropout'; readonly p: number };

/** Which classifier a CIFAR VGG checkpoint has (see vgg.ts for the variants). */
export type VggClassifier = 'linear' | 'bare-linear' | 'dropout-mlp';

/** CIFAR VGG-BN: features, flatten (C·H·W), classifier. */
export interface VggNet {
  readonly family: 'vgg';
  readonly features: readonly VggFeature[];
  readonly classifierKind: VggClassifier;
  readonly classifier: readonly ClassifierLayer[];
}

export type NetSpec = ResnetNet | VggNet | LlamaNet;

/** A prunable unit of docs/method.md §0. */
export interface UnitSpec {
  /** Position in the unit list, the index `--remove`/reports use. */
  readonly index: number;
  /** State-dict prefix: `conv1`, `layer1.0`, `features.3`. */
  readonly name: string;
  readonly kind: 'stem' | 'block' | 'conv' | 'decoder';
  /** 1-based stage (`layer{stage}`; for VGG the pool-delimited group), 0 for the stem. */
  readonly stage: number;
  /** Removing it would change tensor shapes (docs/method.md §0); `protectedReason` says why. */
  readonly protected: boolean;
  readonly protectedReason?: string;
  readonly input: Shape3;
  /**
   * Shape of the unit's representation (docs/method.md §1), which is also what it hands on, except for the
   * torchvision stem, whose conv output is captured and whose max-pooled map goes on.
   */
  readonly output: Shape3;
  /** Learned parameters (weights and biases) of the unit. */
  readonly params: number;
  readonly macs: number;
  /** Its tensors in the state dict (all listed in ModelDescription.params), in registration order. */
  readonly keys: readonly string[];
  /** Its `num_batches_tracked` buffers, accepted but not required in a checkpoint. */
  readonly ignoredKeys: readonly string[];
}

interface DescriptionBase {
  /** For messages: `ResNet-56`, `VGG-16-BN`, with the kept blocks when pruned. */
  readonly name: string;
  readonly input: Shape3;
  readonly numClasses: number;
  readonly units: readonly UnitSpec[];
  /** Index of the stem unit (docs/method.md §3 treats its segment apart); VGG has none. */
  readonly stem: number | undefined;
  /** Every tensor a checkpoint must hold, in PyTorch's state_dict() order. */
  readonly params: readonly ParamSpec[];
  /** Tensors a checkpoint may hold and that are not read: BN `num_batches_tracked`. */
  readonly ignoredKeys: readonly string[];
  /** Learned parameters, as `sum(p.numel() for p in model.parameters())` counts them. */
  readonly paramCount: number;
  /** Multiply-accumulates of one sample's forward pass; convention in layers.ts. */
  readonly macs: number;
}

export type ModelDescription =
  | (DescriptionBase & {
      readonly architecture: 'cifar-resnet';
      readonly config: CifarResnetConfig;
      readonly net: ResnetNet;
    })
  | (DescriptionBase & {
      readonly architecture: 'resnet';
      readonly config: ResnetConfig;
      readonly net: ResnetNet;
    })
  | (DescriptionBase & { readonly architecture: 'vgg'; readonly config: VggConfig; readonly net: VggNet })
  /** LLaMA-family decoders; shapes are per token row, [hidden, 1, 1] (see llama.ts). */
  | (DescriptionBase & {
      readonly architecture: 'llama';
      readonly config: LlmConfig;
      readonly net: LlamaNet;
    });

export type CnnArchitecture = CnnConfig['architecture'];

/** Options a config cannot carry (io's schema keeps only the fields it knows). */
export interface DescribeOptions {
  /** VGG only; default 'linear' (`classifier.0`). `inferVggClassifier` reads it off a checkpoint's keys. */
  readonly vggClassifier?: VggClassifier;
}
