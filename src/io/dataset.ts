// Image data sets held in memory as the files store them: bytes, N x C x H x W, with int32 labels.

import { FormatError } from './errors.js';

export interface ImageDataset {
  /** For messages: the data set and split, e.g. "fashion-mnist test". */
  readonly name: string;
  /** n * c * h * w pixels in [0, 255], NCHW. */
  readonly images: Uint8Array;
  readonly labels: Int32Array;
  readonly n: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly classes: number;
}

/** Checks sizes and label range and returns the data set. */
export function imageDataset(d: ImageDataset): ImageDataset {
  const { name, n, c, h, w, classes } = d;
  if (![n, c, h, w, classes].every((v) => Number.isSafeInteger(v) && v >= 0) || c < 1 || classes < 1) {
    throw new FormatError(name, `bad dimensions n=${n} c=${c} h=${h} w=${w} classes=${classes}`);
  }
  if (d.images.length !== n * c * h * w) {
    throw new FormatError(name, `${d.images.length} pixels, expected ${n}x${c}x${h}x${w} = ${n * c * h * w}`);
  }
  if (d.labels.length !== n) throw new FormatError(name, `${d.labels.length} labels for ${n} images`);
  for (let i = 0; i < n; i++) {
    const y = d.labels[i];
    if (!(y >= 0 && y < classes)) {
      throw new FormatError(name, `image ${i} has label ${y}, expected 0..${classes - 1}`);
    }
  }
  return d;
}

/** One data set from several with the same image shape and classes, in the given order (CIFAR-10's 5 batches). */
export function concatImageDatasets(name: string, parts: readonly ImageDataset[]): ImageDataset {
  if (parts.length === 0) throw new FormatError(name, 'no parts to join');
  const { c, h, w, classes } = parts[0];
  for (const p of parts) {
    if (p.c !== c || p.h !== h || p.w !== w || p.classes !== classes) {
      throw new FormatError(
        p.name,
        `images ${p.c}x${p.h}x${p.w} / ${p.classes} classes, unlike ${parts[0].name}`,
      );
    }
  }
  const n = parts.reduce((s, p) => s + p.n, 0);
  const images = new Uint8Array(n * c * h * w);
  const labels = new Int32Array(n);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * c * h * w);
    labels.set(p.labels, at);
    at += p.n;
  }
  return { name, images, labels, n, c, h, w, classes };
}
