// Small pieces shared by the model commands: option parsing with errors that name the flag, loading a
// model directory, and the data set's batches in the shape evaluateClassifier takes.

import { InvalidArgumentError } from 'commander';
import type { LabelledBatch } from '../eval/classify.js';
import type { ImageBatch } from '../io/batches.js';
import type { CnnConfig } from '../io/config.js';
import type { ImageDataset } from '../io/dataset.js';

/** commander argParser: an integer >= min. */
export function intAtLeast(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}, got "${value}"`);
    }
    return n;
  };
}

/** commander argParser: a finite number >= 0. */
export function nonNegative(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError(`expected a number >= 0, got "${value}"`);
  }
  return n;
}

/** commander argParser: a finite number > 0. */
export function positive(value: string): number {
  const n = nonNegative(value);
  if (n === 0) throw new InvalidArgumentError(`expected a number > 0, got "${value}"`);
  return n;
}

/** The data set's images must be what the model takes. */
export function checkDatasetFits(ds: ImageDataset, config: CnnConfig, model: string): void {
  const [c, h, w] = config.input_size;
  if (ds.c !== c || ds.h !== h || ds.w !== w) {
    throw new Error(
      `${ds.name} has ${ds.c}x${ds.h}x${ds.w} images but ${model} takes input_size [${c}, ${h}, ${w}]`,
    );
  }
  if (ds.classes > config.num_classes) {
    throw new Error(
      `${ds.name} has ${ds.classes} classes but ${model} has num_classes ${config.num_classes}`,
    );
  }
}

/** io's batch shape to eval's. */
export function* labelled(batches: Iterable<ImageBatch>): Generator<LabelledBatch> {
  for (const b of batches) yield { x: b.x, labels: b.y, n: b.size };
}

/** `--memory-cap BYTES` checked (API callers pass any number); undefined: no cap. */
export function checkMemoryCap(cap: number | undefined): void {
  if (cap !== undefined && !(Number.isSafeInteger(cap) && cap >= 1)) {
    throw new Error(`--memory-cap must be a whole number of bytes >= 1, got ${cap}`);
  }
}
