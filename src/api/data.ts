// Image data sets from bytes (files picked in a browser, fetched, or read by Deno/Node): IDX (MNIST,
// Fashion-MNIST; gz or raw) and the binary CIFAR batches.

import { CIFAR_CLASSES, type CifarKind, parseCifarBatch } from '../io/cifar.js';
import { concatImageDatasets, type ImageDataset, imageDataset } from '../io/dataset.js';
import { idxImagesAndLabels, parseIdx } from '../io/idx.js';
import type { FileData } from './sources.js';

export type { ImageDataset } from '../io/dataset.js';

/** One split in IDX files: images [N, H, W] and labels [N], gzip-compressed or raw. */
export interface IdxFiles {
  readonly images: FileData;
  readonly labels: FileData;
  /** For messages and reports (default "images"). */
  readonly name?: string;
  /** Number of classes (default 10). */
  readonly classes?: number;
}

/** One split as CIFAR binary batches, in order (CIFAR-10: data_batch_1..5.bin or test_batch.bin). */
export interface CifarFiles {
  readonly cifar: CifarKind;
  readonly batches: readonly FileData[];
  readonly name?: string;
}

async function bytesOf(data: FileData): Promise<Uint8Array> {
  return data instanceof Uint8Array ? data : new Uint8Array(await data.arrayBuffer());
}

const fileName = (data: FileData, fallback: string) =>
  typeof (data as File).name === 'string' && (data as File).name ? (data as File).name : fallback;

/** Parses one split of an image data set from its files' bytes. */
export async function loadImageDataset(files: IdxFiles | CifarFiles): Promise<ImageDataset> {
  if ('cifar' in files) {
    const name = files.name ?? files.cifar;
    if (files.batches.length === 0) throw new Error(`${name}: no CIFAR batch files given`);
    const parts = await Promise.all(
      files.batches.map(async (data, i) => {
        const file = fileName(data, `${name} batch ${i + 1}`);
        const b = parseCifarBatch(await bytesOf(data), files.cifar, file);
        return imageDataset({
          name: file,
          n: b.n,
          c: 3,
          h: 32,
          w: 32,
          classes: CIFAR_CLASSES[files.cifar],
          images: b.images,
          labels: b.labels,
        });
      }),
    );
    return parts.length === 1 ? { ...parts[0], name } : concatImageDatasets(name, parts);
  }
  const name = files.name ?? 'images';
  const imagesFile = fileName(files.images, `${name} images`);
  const labelsFile = fileName(files.labels, `${name} labels`);
  const [images, labels] = await Promise.all([
    bytesOf(files.images).then((b) => parseIdx(b, imagesFile)),
    bytesOf(files.labels).then((b) => parseIdx(b, labelsFile)),
  ]);
  const d = idxImagesAndLabels(images, labels, { images: imagesFile, labels: labelsFile });
  return imageDataset({ name, ...d, c: 1, classes: files.classes ?? 10 });
}

/**
 * The train and test splits of an MNIST-layout file set, found by their published names
 * (`train-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`, also `…-images.idx3-ubyte`).
 * For a browser's picked files or a map of name → bytes.
 */
export async function loadIdxSplits(
  files: ReadonlyMap<string, FileData> | Iterable<File> | ArrayLike<File>,
  name = 'data',
): Promise<{ train: ImageDataset; test: ImageDataset }> {
  const map: ReadonlyMap<string, FileData> =
    files instanceof Map
      ? files
      : new Map(Array.from(files as ArrayLike<File>, (f): [string, FileData] => [f.name, f]));
  const find = (prefix: string, kind: 'images-idx3' | 'labels-idx1') => {
    const base = `${prefix}-${kind}-ubyte`;
    const dotted = base.replace('-idx', '.idx');
    for (const n of [`${base}.gz`, base, `${dotted}.gz`, dotted]) {
      const f = map.get(n);
      if (f) return f;
    }
    throw new Error(
      `${name}: ${base}.gz (or ${base}) is missing (given: ${[...map.keys()].join(', ') || 'nothing'})`,
    );
  };
  const split = (prefix: 'train' | 't10k', label: string) =>
    loadImageDataset({
      images: find(prefix, 'images-idx3'),
      labels: find(prefix, 'labels-idx1'),
      name: `${name} ${label}`,
    });
  const [train, test] = await Promise.all([split('train', 'train'), split('t10k', 'test')]);
  return { train, test };
}

/** The images must be what the model takes. */
export function checkFits(
  ds: ImageDataset,
  input: readonly [number, number, number],
  classes: number,
  model: string,
): void {
  const [c, h, w] = input;
  if (ds.c !== c || ds.h !== h || ds.w !== w) {
    throw new Error(`${ds.name} has ${ds.c}x${ds.h}x${ds.w} images but ${model} takes [${c}, ${h}, ${w}]`);
  }
  if (ds.classes > classes)
    throw new Error(`${ds.name} has ${ds.classes} classes but ${model} has ${classes}`);
}
