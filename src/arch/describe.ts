// From a validated config.json to the architecture description every later stage works from.

import type { ModelConfig } from '../io/config.js';
import { describeCifarResnet } from './cifar-resnet.js';
import { ArchError } from './errors.js';
import { describeLlama } from './llama.js';
import { describeResnet } from './resnet.js';
import type { DescribeOptions, ModelDescription } from './types.js';
import { describeVgg } from './vgg.js';

/** Architectures that have a description ('llama' covers LlamaForCausalLM, Mistral and Qwen2 configs). */
export const DESCRIBED_ARCHITECTURES = ['cifar-resnet', 'resnet', 'vgg', 'llama'] as const;

/**
 * Describes a model from its validated config (io's `validateModelConfig`), pruned ones included: a
 * cifar-resnet with `blocks` [9, 5, 7] or a VGG with a shorter `layers` list is a model like any other.
 */
export function describeModel(config: ModelConfig, options: DescribeOptions = {}): ModelDescription {
  const known = `known: ${DESCRIBED_ARCHITECTURES.join(', ')}`;
  if (config.kind === 'llm') return describeLlama(config);
  switch (config.architecture) {
    case 'cifar-resnet':
      return describeCifarResnet(config);
    case 'resnet':
      return describeResnet(config);
    case 'vgg':
      return describeVgg(config, options.vggClassifier);
    default: {
      // Reachable only from an unvalidated object cast to ModelConfig.
      const arch = (config as { architecture?: unknown }).architecture;
      throw new ArchError(`unknown architecture ${JSON.stringify(arch)} (${known})`);
    }
  }
}
