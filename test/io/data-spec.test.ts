import { describe, expect, it } from 'vitest';
import { isImageSpec, parseDataSpec, parseSplit } from '../../src/io/data-spec.js';

describe('data specs', () => {
  it('parses every form', () => {
    expect(parseDataSpec('fashion-mnist')).toEqual({ kind: 'fashion-mnist' });
    expect(parseDataSpec('fashion-mnist:/data/fm')).toEqual({ kind: 'fashion-mnist', dir: '/data/fm' });
    expect(parseDataSpec('mnist:data/mnist')).toEqual({ kind: 'mnist', dir: 'data/mnist' });
    expect(parseDataSpec('cifar10:C:\\data\\cifar')).toEqual({ kind: 'cifar10', dir: 'C:\\data\\cifar' });
    expect(parseDataSpec('cifar100:/d')).toEqual({ kind: 'cifar100', dir: '/d' });
    expect(parseDataSpec('text:corpus.txt')).toEqual({ kind: 'text', file: 'corpus.txt' });
    expect(isImageSpec(parseDataSpec('text:a'))).toBe(false);
    expect(isImageSpec(parseDataSpec('mnist:a'))).toBe(true);
  });

  it('explains bad specs', () => {
    const usage = 'fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, cifar100:DIR or text:FILE';
    expect(() => parseDataSpec('imagenet:/x')).toThrow(
      `data spec "imagenet:/x": unknown data set "imagenet" (expected ${usage})`,
    );
    expect(() => parseDataSpec('mnist')).toThrow('data spec "mnist": mnist needs its directory: mnist:DIR');
    expect(() => parseDataSpec('cifar10:')).toThrow('data spec "cifar10:": empty path after "cifar10:"');
    expect(() => parseDataSpec('text')).toThrow('text needs a file: text:FILE');
    expect(() => parseDataSpec('')).toThrow('unknown data set ""');
    expect(parseSplit('test')).toBe('test');
    expect(() => parseSplit('val')).toThrow('split must be "train" or "test", got "val"');
  });
});
