import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import type { VggClassifier } from '../../src/arch/types.js';
import { inferVggClassifier } from '../../src/arch/vgg.js';
import { config, expectMatchesTorch } from './helpers.js';

const vgg = (
  depth: number,
  input: [number, number, number] = [3, 32, 32],
  classifier?: VggClassifier,
  classes = 10,
) => describeModel(config({ architecture: 'vgg', depth }, input, classes), { vggClassifier: classifier });

describe('CIFAR VGG-BN description', () => {
  it('numbers features.N as make_layers(cfg, batch_norm=True) does: conv N, BN N+1, ReLU N+2, pool 1', () => {
    const d = vgg(16);
    expect(d.units.map((u) => u.name)).toEqual(
      [0, 3, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37, 40].map((n) => `features.${n}`),
    );
    expect(d.units[2].keys).toEqual([
      'features.7.weight',
      'features.7.bias',
      'features.8.weight',
      'features.8.bias',
      'features.8.running_mean',
      'features.8.running_var',
    ]);
    expect(d.units[2].ignoredKeys).toEqual(['features.8.num_batches_tracked']);
    if (d.net.family !== 'vgg') throw new Error('expected a VGG');
    expect(d.net.features.filter((f) => f.kind === 'pool').map((f) => f.index)).toEqual([6, 13, 23, 33, 43]);
  });

  it("has the common CIFAR VGG-16-BN's 14,728,266 params and 313.2 M MACs (classifier.0 = Linear(512, 10))", () => {
    const d = vgg(16);
    expect(d.paramCount).toBe(14_728_266);
    expect(d.macs).toBe(313_201_664);
    expect(d.params.slice(-2).map((p) => [p.key, p.shape])).toEqual([
      ['classifier.0.weight', [10, 512]],
      ['classifier.0.bias', [10]],
    ]);
    expectMatchesTorch(d, 'vgg-16-linear-3x32x32');
  });

  it('knows the bare-linear and dropout-MLP classifiers and other inputs', () => {
    expectMatchesTorch(vgg(11, [3, 32, 32], 'dropout-mlp', 100), 'vgg-11-dropout-mlp-3x32x32-c100');
    // A 64x64 input leaves 2x2 after five pools: the classifier takes 512·2·2 features.
    const big = vgg(19, [3, 64, 64], 'bare-linear');
    expect(big.params.at(-2)).toEqual({ key: 'classifier.weight', shape: [10, 2048], kind: 'weight' });
    expectMatchesTorch(big, 'vgg-19-bare-linear-3x64x64');
    expectMatchesTorch(vgg(13, [1, 32, 32]), 'vgg-13-linear-1x32x32');
  });

  it('protects no conv of the standard configs and has no stem', () => {
    for (const depth of [11, 13, 16, 19]) {
      const d = vgg(depth);
      expect(d.units).toHaveLength(depth - 3);
      expect(d.units.some((u) => u.protected)).toBe(false);
      expect(d.stem).toBeUndefined();
    }
  });

  it('protects a last conv that changes width, since the classifier stays', () => {
    const d = describeModel(
      config(
        { architecture: 'vgg', depth: 11, layers: [64, 'M', 128, 'M', 256, 'M', 256, 512, 'M', 'M'] },
        [3, 32, 32],
      ),
    );
    expect(d.units.filter((u) => u.protected).map((u) => [u.name, u.protectedReason])).toEqual([
      ['features.15', 'the last conv: the classifier takes its 512 channels, its input has 256'],
    ]);
  });

  it('refuses an input that five pools shrink to nothing, e.g. 28x28', () => {
    expect(() => vgg(16, [1, 28, 28])).toThrow(
      'VGG-16-BN with a 28x28 input: max pool features.43: input 1x1 is too small (kernel 2, stride 2, padding 0 leave 0x0)',
    );
  });

  it("infers the classifier variant from a checkpoint's keys", () => {
    expect(inferVggClassifier(['features.0.weight', 'classifier.0.weight'])).toBe('linear');
    expect(inferVggClassifier(['classifier.weight', 'classifier.bias'])).toBe('bare-linear');
    expect(inferVggClassifier(['classifier.1.weight', 'classifier.4.weight', 'classifier.6.weight'])).toBe(
      'dropout-mlp',
    );
    expect(inferVggClassifier(['fc.weight'])).toBeUndefined();
  });
});
