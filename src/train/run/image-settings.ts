// The options of an image classifier's training run (CIFAR ResNet, CIFAR VGG-BN, torchvision ResNet) and
// the settings they give: checked, with their defaults filled in, in train-state.json's key order. Errors
// name the option through a Naming (the library's field, or the CLI's flag).

import type { Normalize } from '../../io/batches.js';
import { KNOWN_ARCHITECTURES } from '../../io/config.js';
import type { ImageDataset } from '../../io/dataset.js';
import { intOption, type Naming, numberOption } from './naming.js';

/** The image data of a run: `name` is what the settings record (the CLI's `--data` spec). */
export interface ImageTrainData {
  readonly name: string;
  readonly train: ImageDataset;
  readonly test: ImageDataset;
}

export interface ImageTrainOptions {
  readonly arch: string;
  readonly depth?: number;
  readonly inChannels?: number;
  readonly numClasses?: number;
  /** cifar-resnet only: A (zero padding) or B (1x1 conv + BN). */
  readonly shortcut?: string;
  /** Residual blocks per stage, 3 counts (cifar-resnet) or 4 (resnet), as a list or "1,1,1". */
  readonly blocks?: string | readonly number[];
  /** vgg only: conv widths and 'M' pools, as a list or "8,M,16,M,...". */
  readonly layers?: string | readonly (number | 'M')[];
  readonly epochs: number;
  readonly batch?: number;
  readonly lr?: number;
  readonly momentum?: number;
  readonly weightDecay?: number;
  readonly seed?: number;
  readonly augment?: boolean;
  /** Only the first N train and N test images. */
  readonly limit?: number;
}

export const TRAIN_DEFAULTS = {
  /** cifar-resnet's; see DEFAULT_DEPTH for the others. */
  depth: 56,
  shortcut: 'A',
  batch: 128,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 5e-4,
  seed: 0,
} as const;

/** The image classifiers this trainer takes (llama is lm.ts's) and their default depths. */
export const TRAINABLE_ARCHITECTURES = ['cifar-resnet', 'vgg', 'resnet'] as const;
export type TrainableArch = (typeof TRAINABLE_ARCHITECTURES)[number];
export const DEFAULT_DEPTH: Record<TrainableArch, number> = {
  'cifar-resnet': TRAIN_DEFAULTS.depth,
  vgg: 16,
  resnet: 18,
};

/** Every setting that changes the result; a resumed run must repeat them exactly. */
export interface RunSettings {
  readonly arch: string;
  readonly depth: number;
  /** cifar-resnet only (absent for the others, so cifar-resnet's train-state.json is as before). */
  readonly shortcut?: string;
  /** cifar-resnet and resnet. */
  readonly blocks?: number[] | null;
  /** vgg only. */
  readonly layers?: (number | 'M')[] | null;
  readonly inChannels: number;
  readonly numClasses: number;
  readonly data: string;
  readonly limit: number | null;
  readonly epochs: number;
  readonly batch: number;
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly seed: number;
  readonly augment: boolean;
}

/** The per-stage block counts, from a list or text like "1,1,1". */
export function parseBlocks(
  given: string | readonly number[] | undefined,
  arch: TrainableArch,
  naming: Naming,
): number[] | null {
  if (given === undefined) return null;
  const text = typeof given === 'string' ? given : given.join(',');
  const [n, example] = arch === 'resnet' ? [4, 'four counts like 1,1,1,1'] : [3, 'three counts like 1,1,1'];
  const parts = text.split(',').map((s) => s.trim());
  const blocks = parts.map(Number);
  if (parts.length !== n || blocks.some((b, i) => parts[i] === '' || !Number.isSafeInteger(b) || b < 0)) {
    throw new Error(`${naming.of('blocks')} must be ${example} (one per stage of ${arch}), got "${text}"`);
  }
  return blocks;
}

/** VGG's conv widths and 'M' pools, from a list or text like "8,M,16,M". */
export function parseLayers(
  given: string | readonly (number | 'M')[] | undefined,
  naming: Naming,
): (number | 'M')[] | null {
  if (given === undefined) return null;
  const text = typeof given === 'string' ? given : given.join(',');
  const parts = text.split(',').map((s) => s.trim());
  const bad = parts.find(
    (p) => p !== 'M' && !(/^\d+$/.test(p) && Number(p) >= 1 && Number.isSafeInteger(Number(p))),
  );
  if (bad !== undefined) {
    throw new Error(
      `${naming.of('layers')} must list conv widths and M pools like 8,M,16,M,32,M,32,M,32,M; "${bad}" in "${text}" is neither`,
    );
  }
  return parts.map((p) => (p === 'M' ? 'M' : Number(p)));
}

function checkArchitecture(arch: string, naming: Naming): asserts arch is TrainableArch {
  const trainable: readonly string[] = TRAINABLE_ARCHITECTURES;
  if (trainable.includes(arch)) return;
  const a = naming.of('arch');
  const supported = `${TRAINABLE_ARCHITECTURES.join(', ')}; llama trains through ${a} llama`;
  if (KNOWN_ARCHITECTURES.includes(arch)) {
    throw new Error(
      `${a} ${arch}: training architecture "${arch}" is not supported here (supported: ${supported})`,
    );
  }
  throw new Error(
    `${a}: unknown architecture "${arch}" (known: ${KNOWN_ARCHITECTURES.join(', ')}; trainable: ${supported})`,
  );
}

/** The checks that need no data: architecture, the options only some architectures take, their syntax. */
export function checkImageOptions(o: ImageTrainOptions, naming: Naming): void {
  const { of } = naming;
  checkArchitecture(o.arch, naming);
  const arch = o.arch;
  if (o.shortcut !== undefined && arch !== 'cifar-resnet') {
    throw new Error(`${of('shortcut')}: only for ${of('arch')} cifar-resnet (got ${of('arch')} ${arch})`);
  }
  if (o.layers !== undefined && arch !== 'vgg') {
    throw new Error(
      `${of('layers')}: only for ${of('arch')} vgg here (got ${of('arch')} ${arch}; use ${of('blocks')} for residual stages)`,
    );
  }
  if (o.blocks !== undefined && arch === 'vgg') {
    throw new Error(
      `${of('blocks')}: only for ${of('arch')} cifar-resnet and resnet (a smaller vgg is ${of('layers')} 8,M,16,M,...)`,
    );
  }
  parseBlocks(o.blocks, arch, naming);
  parseLayers(o.layers, naming);
  intOption(o.epochs, 'epochs', 1, naming);
  if (o.limit !== undefined && o.limit < 1) throw new Error(`${of('limit')} must be at least 1`);
  for (const [field, min] of [
    ['batch', 1],
    ['seed', 0],
    ['depth', 1],
  ] as const) {
    const v = o[field];
    if (v !== undefined) intOption(v, field, min, naming);
  }
  if (o.lr !== undefined) numberOption(o.lr, 'lr', false, naming);
  if (o.momentum !== undefined) numberOption(o.momentum, 'momentum', true, naming);
  if (o.weightDecay !== undefined) numberOption(o.weightDecay, 'weightDecay', true, naming);
}

/** The settings a run uses, from the options and the training data. */
export function imageSettings(o: ImageTrainOptions, data: ImageTrainData, naming: Naming): RunSettings {
  const { of } = naming;
  const { train } = data;
  if (!(Number.isSafeInteger(o.epochs) && o.epochs >= 1)) {
    throw new Error(`${of('epochs')} must be an integer >= 1, got ${o.epochs}`);
  }
  const inChannels = o.inChannels ?? train.c;
  if (inChannels !== train.c) {
    throw new Error(`${of('inChannels')} ${inChannels}, but ${train.name} has ${train.c}-channel images`);
  }
  const numClasses = o.numClasses ?? train.classes;
  if (numClasses < train.classes) {
    throw new Error(`${of('numClasses')} ${numClasses}, but ${train.name} has ${train.classes} classes`);
  }
  const arch = o.arch as TrainableArch;
  // Key order is the train-state.json order; cifar-resnet's keys are as they always were.
  return {
    arch,
    depth: o.depth ?? DEFAULT_DEPTH[arch],
    ...(arch === 'cifar-resnet' ? { shortcut: o.shortcut ?? TRAIN_DEFAULTS.shortcut } : {}),
    ...(arch === 'vgg'
      ? { layers: parseLayers(o.layers, naming) }
      : { blocks: parseBlocks(o.blocks, arch, naming) }),
    inChannels,
    numClasses,
    data: data.name,
    limit: o.limit ?? null,
    epochs: o.epochs,
    batch: o.batch ?? TRAIN_DEFAULTS.batch,
    lr: o.lr ?? TRAIN_DEFAULTS.lr,
    momentum: o.momentum ?? TRAIN_DEFAULTS.momentum,
    weightDecay: o.weightDecay ?? TRAIN_DEFAULTS.weightDecay,
    seed: o.seed ?? TRAIN_DEFAULTS.seed,
    augment: o.augment ?? true,
  };
}

/**
 * Per-channel mean and (population) std of pixel/255 over the training images used, rounded to 4 decimals
 * as config.json stores them (Fashion-MNIST's full train split gives 0.286 / 0.353).
 */
export function datasetNormalize(ds: ImageDataset): Normalize {
  const plane = ds.h * ds.w;
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < ds.c; c++) {
    const hist = new Float64Array(256);
    for (let i = 0; i < ds.n; i++) {
      const img = ds.images.subarray((i * ds.c + c) * plane, (i * ds.c + c + 1) * plane);
      for (let p = 0; p < plane; p++) hist[img[p]]++;
    }
    let count = 0;
    let s = 0;
    for (let v = 0; v < 256; v++) {
      count += hist[v];
      s += hist[v] * (v / 255);
    }
    const m = s / count;
    let sq = 0;
    for (let v = 0; v < 256; v++) sq += hist[v] * (v / 255 - m) ** 2;
    const round = (x: number) => Math.round(x * 1e4) / 1e4;
    mean.push(round(m));
    const sd = round(Math.sqrt(sq / count));
    std.push(sd > 0 ? sd : 1);
  }
  return { mean, std };
}
