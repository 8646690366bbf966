// Edges of src/arch/layers.ts that mutation testing (docs/mutation.md) found untested: the op tags, an
// input too small in one direction only, the guard against a description chaining the wrong width, a
// linear layer without bias.

import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { batchNorm2d, conv2d, convOutput, linear, linearParams } from '../../src/arch/layers.js';
import { config } from './helpers.js';

describe('layers', () => {
  it('tags each spec with its op', () => {
    expect(conv2d('c', 1, 2, 3, 1, 1, false).op).toBe('conv2d');
    expect(batchNorm2d('b', 2).op).toBe('batchnorm2d');
    expect(linear('l', 2, 3).op).toBe('linear');
  });

  it('rejects an input too small in height only, or in width only', () => {
    // CIFAR VGG's five 2x2 pools need 32 pixels each way; 16 leaves 0 after the fifth.
    const vgg = (input: [number, number, number]) =>
      describeModel(config({ architecture: 'vgg', depth: 11 }, input));
    expect(() => vgg([3, 16, 32])).toThrow(
      /input 1x2 is too small \(kernel 2, stride 2, padding 0 leave 0x1\)/,
    );
    expect(() => vgg([3, 32, 16])).toThrow(
      /input 2x1 is too small \(kernel 2, stride 2, padding 0 leave 1x0\)/,
    );
    expect(() => vgg([3, 32, 32])).not.toThrow();
  });

  it('a conv given an input of another width is a bug in the description, named', () => {
    expect(() => convOutput(conv2d('features.0', 3, 8, 3, 1, 1, true), [2, 8, 8])).toThrow(
      'features.0: input has 2 channels, the conv takes 3',
    );
  });

  it('a linear layer without bias has only its weight', () => {
    expect(linearParams(linear('fc', 4, 2, false))).toEqual([
      { key: 'fc.weight', shape: [2, 4], kind: 'weight' },
    ]);
    expect(linearParams(linear('fc', 4, 2)).map((p) => p.key)).toEqual(['fc.weight', 'fc.bias']);
  });
});
