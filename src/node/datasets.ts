// Finding and loading the image data sets of a `--data` spec from disk.

import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CIFAR_CLASSES, type CifarKind, parseCifarBatch } from '../io/cifar.js';
import { type ImageDataSpec, parseDataSpec, type Split } from '../io/data-spec.js';
import { concatImageDatasets, type ImageDataset, imageDataset } from '../io/dataset.js';
import { DataSpecError } from '../io/errors.js';
import { idxImagesAndLabels, parseIdx } from '../io/idx.js';
import { isNotFound } from './files.js';

/** Where Debian's dataset-fashion-mnist package installs the data. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Loads one split of an image data set given as a spec ("fashion-mnist", "cifar10:DIR", ...) or parsed. */
export async function loadImageDataset(spec: string | ImageDataSpec, split: Split): Promise<ImageDataset> {
  const text = typeof spec === 'string' ? spec : specText(spec);
  const parsed = typeof spec === 'string' ? parseDataSpec(spec) : spec;
  switch (parsed.kind) {
    case 'fashion-mnist':
      return loadIdx(text, parsed.dir ?? FASHION_MNIST_DIR, split, 'fashion-mnist');
    case 'mnist':
      return loadIdx(text, parsed.dir, split, 'mnist');
    case 'cifar10':
    case 'cifar100':
      return loadCifar(text, parsed.dir, split, parsed.kind);
    default:
      throw new DataSpecError(text, 'not an image data set');
  }
}

function specText(spec: ImageDataSpec): string {
  return spec.dir === undefined ? spec.kind : `${spec.kind}:${spec.dir}`;
}

async function loadIdx(spec: string, dir: string, split: Split, kind: 'mnist' | 'fashion-mnist') {
  const prefix = split === 'train' ? 'train' : 't10k';
  const hint =
    kind === 'mnist'
      ? ''
      : dir === FASHION_MNIST_DIR
        ? " (install Debian's dataset-fashion-mnist package, or give fashion-mnist:DIR)"
        : ` (Debian's dataset-fashion-mnist package installs it in ${FASHION_MNIST_DIR})`;
  // Published names, compressed or not; some mirrors write "train-images.idx3-ubyte". One after the
  // other, so a missing file is always reported the same way (images before labels).
  const find = (base: string) =>
    findFile(
      spec,
      dir,
      [`${base}.gz`, base, `${base.replace('-idx', '.idx')}.gz`, base.replace('-idx', '.idx')],
      hint,
    );
  const imagesFile = await find(`${prefix}-images-idx3-ubyte`);
  const labelsFile = await find(`${prefix}-labels-idx1-ubyte`);
  const [images, labels] = await Promise.all([
    readBytes(imagesFile).then((b) => parseIdx(b, imagesFile)),
    readBytes(labelsFile).then((b) => parseIdx(b, labelsFile)),
  ]);
  const d = idxImagesAndLabels(images, labels, { images: imagesFile, labels: labelsFile });
  return imageDataset({ name: `${kind} ${split}`, ...d, c: 1, classes: 10 });
}

async function loadCifar(spec: string, dir: string, split: Split, kind: CifarKind) {
  // The archives unpack into these folders; accept the folder itself or its parent.
  const sub = kind === 'cifar10' ? 'cifar-10-batches-bin' : 'cifar-100-binary';
  const names =
    kind === 'cifar10'
      ? split === 'train'
        ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`)
        : ['test_batch.bin']
      : [`${split}.bin`];
  const files: string[] = [];
  for (const name of names) files.push(await findFile(spec, dir, [name, join(sub, name)], ''));
  const parts = await Promise.all(
    files.map(async (file) => {
      const batch = parseCifarBatch(await readBytes(file), kind, file);
      return imageDataset({
        name: file,
        n: batch.n,
        c: 3,
        h: 32,
        w: 32,
        classes: CIFAR_CLASSES[kind],
        images: batch.images,
        labels: batch.labels,
      });
    }),
  );
  return parts.length === 1
    ? { ...parts[0], name: `${kind} ${split}` }
    : concatImageDatasets(`${kind} ${split}`, parts);
}

/** The first of `candidates` (relative to `dir`) that is a file, else an error naming what was looked for. */
async function findFile(spec: string, dir: string, candidates: string[], hint: string): Promise<string> {
  for (const name of candidates) {
    const path = join(dir, name);
    try {
      if ((await stat(path)).isFile()) return path;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  const also = candidates.length > 1 ? ` (nor ${candidates.slice(1).join(', ')} there)` : '';
  throw new DataSpecError(spec, `${join(dir, candidates[0])} not found${also}${hint}`);
}

async function readBytes(path: string): Promise<Uint8Array> {
  const b = await readFile(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
