import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { ArchError } from '../../src/arch/errors.js';
import { type ModelConfig, validateModelConfig } from '../../src/io/config.js';

describe('describeModel', () => {
  it('names the known architectures when it has no description for a config', () => {
    const bogus = { kind: 'cnn', architecture: 'mobilenet' } as unknown as ModelConfig;
    expect(() => describeModel(bogus)).toThrow(ArchError);
    expect(() => describeModel(bogus)).toThrow(
      'unknown architecture "mobilenet" (known: cifar-resnet, resnet, vgg, llama)',
    );
  });

  it('keeps the validated config it was built from', () => {
    const c = validateModelConfig({
      architecture: 'cifar-resnet',
      depth: 20,
      shortcut: 'A',
      in_channels: 1,
      num_classes: 10,
      input_size: [1, 28, 28],
      normalize: { mean: [0.286], std: [0.353] },
    });
    const d = describeModel(c);
    expect(d.config).toBe(c);
    expect(d.input).toEqual([1, 28, 28]);
    expect(d.numClasses).toBe(10);
    expect(d.name).toBe('ResNet-20');
  });
});
