// Float32 NCHW batches from an ImageDataset, normalised as torchvision's ToTensor + Normalize would:
// x = (pixel / 255 - mean[c]) / std[c], each step rounded to float32, so inputs match PyTorch's bit for bit.
// Training batches may be shuffled and augmented (random crop after zero padding, horizontal flip, as in
// CIFAR training), all from a seed so a run can be repeated exactly.

import type { ImageDataset } from './dataset.js';
import { Rng } from './prng.js';

export interface Normalize {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

export interface Augment {
  /** Zero padding on each side before a random crop back to H x W; 0 turns cropping off. */
  readonly pad: number;
  readonly flip: boolean;
}

export interface BatchOptions {
  readonly batchSize: number;
  readonly normalize: Normalize;
  /** Shuffle (and seed the augmentation) with this seed; file order when absent. */
  readonly seed?: number;
  readonly shuffle?: boolean;
  /** Random crop and flip; needs a seed. `true` means pad 4 and flip. */
  readonly augment?: boolean | Augment;
  /** Mixed into the seed so each epoch has its own order and augmentation. */
  readonly epoch?: number;
  /** Use only the first `limit` samples of the order. */
  readonly limit?: number;
  /** Skip a last, smaller batch. */
  readonly dropLast?: boolean;
}

export interface ImageBatch {
  /** size x c x h x w, normalised. */
  readonly x: Float32Array;
  readonly y: Int32Array;
  readonly size: number;
  /** Which samples of the data set, in batch order. */
  readonly indices: Int32Array;
}

/** Stream numbers for Rng.derive: shuffling and augmentation never share random numbers. */
const SHUFFLE_STREAM = 1;
const AUGMENT_STREAM = 2;

/** Per channel, the normalised value of each of the 256 pixel values. */
export function normalizationTable(normalize: Normalize, channels: number): Float32Array[] {
  const { mean, std } = normalize;
  if (mean.length !== channels || std.length !== channels) {
    throw new RangeError(
      `normalize has ${mean.length} means and ${std.length} stds for ${channels} channels`,
    );
  }
  const f = Math.fround;
  return mean.map((m, c) => {
    const t = new Float32Array(256);
    for (let p = 0; p < 256; p++) t[p] = f(f(f(p / 255) - f(m)) / f(std[c]));
    return t;
  });
}

/** The order samples are visited in: file order, or a seeded permutation per epoch. */
export function sampleOrder(
  n: number,
  options: Pick<BatchOptions, 'seed' | 'shuffle' | 'epoch' | 'limit'> = {},
): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (options.shuffle) {
    Rng.derive(requireSeed(options.seed, 'shuffle'), options.epoch ?? 0, SHUFFLE_STREAM).shuffle(order);
  }
  return options.limit === undefined ? order : order.subarray(0, Math.max(0, Math.min(n, options.limit)));
}

export function batchCount(ds: ImageDataset, options: BatchOptions): number {
  const n = options.limit === undefined ? ds.n : Math.max(0, Math.min(ds.n, options.limit));
  return options.dropLast ? Math.floor(n / options.batchSize) : Math.ceil(n / options.batchSize);
}

/** The batches of one epoch, in order. */
export function* imageBatches(ds: ImageDataset, options: BatchOptions): Generator<ImageBatch> {
  const { batchSize } = options;
  if (!(Number.isSafeInteger(batchSize) && batchSize >= 1)) {
    throw new RangeError(`batch size must be >= 1, got ${batchSize}`);
  }
  const order = sampleOrder(ds.n, options);
  const tables = normalizationTable(options.normalize, ds.c);
  const augment = options.augment === true ? { pad: 4, flip: true } : options.augment || undefined;
  const rng = augment
    ? Rng.derive(requireSeed(options.seed, 'augment'), options.epoch ?? 0, AUGMENT_STREAM)
    : undefined;
  const end = options.dropLast ? order.length - (order.length % batchSize) : order.length;
  for (let start = 0; start < end; start += batchSize) {
    const indices = order.slice(start, Math.min(end, start + batchSize));
    yield makeBatch(ds, indices, tables, augment && rng ? { ...augment, rng } : undefined);
  }
}

/** One batch of the given samples; with `augment`, each sample draws its crop offsets then its flip. */
export function makeBatch(
  ds: ImageDataset,
  indices: Int32Array,
  tables: readonly Float32Array[],
  augment?: Augment & { rng: Rng },
): ImageBatch {
  const { c, h, w } = ds;
  const plane = h * w;
  const x = new Float32Array(indices.length * c * plane);
  const y = new Int32Array(indices.length);
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b];
    y[b] = ds.labels[i];
    const src = ds.images.subarray(i * c * plane, (i + 1) * c * plane);
    const dst = x.subarray(b * c * plane, (b + 1) * c * plane);
    if (!augment) {
      for (let ch = 0; ch < c; ch++) {
        const t = tables[ch];
        for (let p = 0; p < plane; p++) dst[ch * plane + p] = t[src[ch * plane + p]];
      }
      continue;
    }
    const { pad, rng } = augment;
    // Offsets of the crop window in the padded image, minus the padding: source pixel = output + offset.
    const dy = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
    const dx = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
    const flip = augment.flip && rng.float() < 0.5;
    for (let ch = 0; ch < c; ch++) {
      const t = tables[ch];
      const zero = t[0]; // padding is black, as torchvision pads before normalising
      for (let r = 0; r < h; r++) {
        const sr = r + dy;
        for (let col = 0; col < w; col++) {
          const sc = (flip ? w - 1 - col : col) + dx;
          const inside = sr >= 0 && sr < h && sc >= 0 && sc < w;
          dst[ch * plane + r * w + col] = inside ? t[src[ch * plane + sr * w + sc]] : zero;
        }
      }
    }
  }
  return { x, y, size: indices.length, indices };
}

function requireSeed(seed: number | undefined, what: string): number {
  if (seed === undefined) throw new RangeError(`${what} needs a seed`);
  return seed;
}
