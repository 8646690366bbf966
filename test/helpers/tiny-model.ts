// A tiny SGLP setting for the pipeline and `sglp prune` tests: a depth-20 cifar-resnet (10 units) on 1x8x8
// images with seeded random weights and non-trivial BN running statistics, and a synthetic data set whose
// class shows as a bright row or column (in memory, or as gzipped IDX files in MNIST layout).

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describeModel } from '../../src/arch/describe.js';
import type { ModelDescription } from '../../src/arch/types.js';
import type { Gpu } from '../../src/gpu/device.js';
import { type CifarResnetConfig, validateModelConfig } from '../../src/io/config.js';
import { type ImageDataset, imageDataset } from '../../src/io/dataset.js';
import { Rng } from '../../src/io/prng.js';
import type { TensorToWrite } from '../../src/io/safetensors-write.js';
import { ParamStore } from '../../src/nn/params.js';
import { writeFileAtomic, writeSafetensorsFile } from '../../src/node/files.js';

export const TINY_CONFIG = {
  architecture: 'cifar-resnet',
  depth: 20,
  shortcut: 'A',
  in_channels: 1,
  num_classes: 10,
  input_size: [1, 8, 8],
  normalize: { mean: [0.3], std: [0.3] },
};

export function tinyConfig(): CifarResnetConfig {
  return validateModelConfig(TINY_CONFIG, 'tiny config') as CifarResnetConfig;
}

export function tinyDescription(): ModelDescription {
  return describeModel(tinyConfig());
}

/** Seeded random arrays for every tensor: PyTorch-like weights, BN stats away from 0 / 1. */
export function tinyArrays(desc: ModelDescription, seed = 5): Record<string, Float32Array> {
  const rng = new Rng(seed);
  const out: Record<string, Float32Array> = {};
  for (const p of desc.params) {
    const n = p.shape.reduce((a, d) => a * d, 1);
    const a = new Float32Array(n);
    const fan = p.shape.length > 1 ? p.shape.slice(1).reduce((x, d) => x * d, 1) : 1;
    for (let i = 0; i < n; i++) {
      const u = rng.float();
      if (p.kind === 'running_var') a[i] = 0.5 + u;
      else if (p.kind === 'running_mean') a[i] = 0.2 * (u - 0.5);
      else if (p.kind === 'weight' && p.shape.length === 1) a[i] = 0.8 + 0.4 * u;
      else if (p.kind === 'bias' && p.shape.length === 1) a[i] = 0.1 * (u - 0.5);
      else a[i] = ((2 * u - 1) * Math.sqrt(3)) / Math.sqrt(fan);
    }
    out[p.key] = a;
  }
  return out;
}

export function tinyParams(gpu: Gpu, desc: ModelDescription, seed = 5): ParamStore {
  return ParamStore.fromArrays(gpu, desc, tinyArrays(desc, seed));
}

/** n 8x8 images: class y < 8 lights row y, else a column; plus seeded noise. */
export function tinyImages(n: number, seed: number): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(n * 64);
  const labels = new Uint8Array(n);
  let s = seed;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (let i = 0; i < n; i++) {
    const y = i % 10;
    labels[i] = y;
    for (let p = 0; p < 64; p++) {
      const r = Math.floor(p / 8);
      const c = p % 8;
      const on = y < 8 ? r === y : c === (y - 8) * 4 + 1;
      images[i * 64 + p] = Math.min(255, Math.floor((on ? 180 : 20) + 60 * rand()));
    }
  }
  return { images, labels };
}

export function tinyDataset(name: string, n: number, seed: number): ImageDataset {
  const { images, labels } = tinyImages(n, seed);
  return imageDataset({ name, images, labels: Int32Array.from(labels), n, c: 1, h: 8, w: 8, classes: 10 });
}

function idx(dims: number[], values: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt8(8, 2);
  head.writeUInt8(dims.length, 3);
  dims.forEach((d, i) => {
    head.writeUInt32BE(d, 4 + 4 * i);
  });
  return gzipSync(Buffer.concat([head, Buffer.from(values)]));
}

/** Seeded images and labels, `size` pixels each. */
export type ImageMaker = (n: number, seed: number) => { images: Uint8Array; labels: Uint8Array };

/** MNIST-layout gz IDX files in `dir` of `make`'s images of h x w (train seed 1, test seed 2). */
export async function writeIdxSplits(
  dir: string,
  trainN: number,
  testN: number,
  make: ImageMaker,
  [h, w]: readonly [number, number],
): Promise<void> {
  for (const [prefix, n, seed] of [
    ['train', trainN, 1],
    ['t10k', testN, 2],
  ] as const) {
    const { images, labels } = make(n, seed);
    await writeFile(join(dir, `${prefix}-images-idx3-ubyte.gz`), idx([n, h, w], images));
    await writeFile(join(dir, `${prefix}-labels-idx1-ubyte.gz`), idx([n], labels));
  }
}

/** MNIST-layout gz IDX files in `dir`: the same images tinyDataset gives (train seed 1, test seed 2). */
export function writeTinyMnist(dir: string, trainN: number, testN: number): Promise<void> {
  return writeIdxSplits(dir, trainN, testN, tinyImages, [8, 8]);
}

/** A model directory (config.json + model.safetensors with num_batches_tracked) of seeded weights. */
export async function writeModelDir(
  dir: string,
  desc: ModelDescription,
  config: object,
  seed: number,
): Promise<void> {
  const arrays = tinyArrays(desc, seed);
  const tensors: Record<string, TensorToWrite> = {};
  for (const p of desc.params) tensors[p.key] = { dtype: 'F32', shape: p.shape, data: arrays[p.key] };
  for (const k of desc.ignoredKeys) tensors[k] = { dtype: 'I64', shape: [], data: BigInt64Array.of(42n) };
  await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  await writeFileAtomic(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
}

/** The tiny model's directory. */
export function writeTinyModel(dir: string, seed = 5): Promise<void> {
  return writeModelDir(dir, tinyDescription(), TINY_CONFIG, seed);
}
