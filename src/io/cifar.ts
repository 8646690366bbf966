// CIFAR-10 and CIFAR-100 "binary version" batches: per image one label byte (CIFAR-100: coarse then fine),
// then 3072 pixel bytes, the red, green and blue 32x32 planes in turn (already CHW).

import { FormatError } from './errors.js';

export type CifarKind = 'cifar10' | 'cifar100';

export interface CifarBatch {
  readonly n: number;
  /** n x 3 x 32 x 32 pixels. */
  readonly images: Uint8Array;
  /** CIFAR-10 class, or CIFAR-100 fine class. */
  readonly labels: Int32Array;
  /** CIFAR-100 only: the superclass (0..19). */
  readonly coarse?: Int32Array;
}

const PIXELS = 3 * 32 * 32;

export const CIFAR_CLASSES: Record<CifarKind, number> = { cifar10: 10, cifar100: 100 };

export function parseCifarBatch(bytes: Uint8Array, kind: CifarKind, file: string): CifarBatch {
  const labelBytes = kind === 'cifar10' ? 1 : 2;
  const record = labelBytes + PIXELS;
  if (bytes.byteLength === 0 || bytes.byteLength % record !== 0) {
    throw new FormatError(
      file,
      `${bytes.byteLength} bytes is not a whole number of ${record}-byte ${kind} records (wrong data set, or truncated?)`,
    );
  }
  const n = bytes.byteLength / record;
  const images = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  const coarse = kind === 'cifar100' ? new Int32Array(n) : undefined;
  const classes = CIFAR_CLASSES[kind];
  for (let i = 0; i < n; i++) {
    const at = i * record;
    const label = bytes[at + labelBytes - 1];
    if (label >= classes) {
      throw new FormatError(file, `record ${i} has label ${label}, expected 0..${classes - 1}`);
    }
    if (coarse) {
      if (bytes[at] >= 20) {
        throw new FormatError(file, `record ${i} has coarse label ${bytes[at]}, expected 0..19`);
      }
      coarse[i] = bytes[at];
    }
    labels[i] = label;
    images.set(bytes.subarray(at + labelBytes, at + record), i * PIXELS);
  }
  return coarse ? { n, images, labels, coarse } : { n, images, labels };
}
