// A tiny CIFAR VGG-BN for the VGG pruning tests: five convs of distinct widths on 1x32x32 images (VGG's five
// 2x2 pools need 32x32), so that removing any of the first four changes the next conv's input width and
// re-initialises it (SGLP.md §0); the last conv (10 → 12 channels, the classifier's input) is protected.
// Weights come from tiny-model.ts's seeded arrays; images are tiny-model.ts's 8x8 ones scaled up 4x.

import { describeModel } from '../../src/arch/describe.js';
import type { ModelDescription } from '../../src/arch/types.js';
import { type VggConfig, validateModelConfig } from '../../src/io/config.js';
import { type ImageDataset, imageDataset } from '../../src/io/dataset.js';
import { tinyImages, writeIdxSplits, writeModelDir } from './tiny-model.js';

export const TINY_VGG_CONFIG = {
  architecture: 'vgg',
  depth: 11,
  batch_norm: true,
  layers: [4, 'M', 6, 'M', 8, 'M', 10, 'M', 12, 'M'],
  in_channels: 1,
  num_classes: 10,
  input_size: [1, 32, 32],
  normalize: { mean: [0.3], std: [0.3] },
};

export function tinyVggDescription(): ModelDescription {
  return describeModel(validateModelConfig(TINY_VGG_CONFIG, 'tiny vgg config') as VggConfig);
}

/** n 32x32 images: tinyImages' 8x8 ones, each pixel a 4x4 block. */
export function tinyImages32(n: number, seed: number): { images: Uint8Array; labels: Uint8Array } {
  const small = tinyImages(n, seed);
  const images = new Uint8Array(n * 1024);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < 1024; p++) {
      const r = Math.floor(p / 32) >> 2;
      const c = (p % 32) >> 2;
      images[i * 1024 + p] = small.images[i * 64 + r * 8 + c];
    }
  }
  return { images, labels: small.labels };
}

export function tinyDataset32(name: string, n: number, seed: number): ImageDataset {
  const { images, labels } = tinyImages32(n, seed);
  return imageDataset({ name, images, labels: Int32Array.from(labels), n, c: 1, h: 32, w: 32, classes: 10 });
}

/** MNIST-layout gz IDX files in `dir` with the images tinyDataset32 gives (train seed 1, test seed 2). */
export function writeTinyMnist32(dir: string, trainN: number, testN: number): Promise<void> {
  return writeIdxSplits(dir, trainN, testN, tinyImages32, [32, 32]);
}

/** A model directory of the tiny VGG (config.json + model.safetensors with num_batches_tracked). */
export function writeTinyVgg(dir: string, seed = 5): Promise<void> {
  return writeModelDir(dir, tinyVggDescription(), TINY_VGG_CONFIG, seed);
}
