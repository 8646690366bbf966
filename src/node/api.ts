/**
 * Node conveniences of `sglp/node` over the portable API: a model from a directory path, a data set
 * from a `--data` spec.
 *
 * @module sglp/node
 */

import { type CifarFiles, loadImageDataset as fromFiles, type IdxFiles } from '../api/data.js';
import { type LoadModelOptions, loadModel, type Model } from '../api/model.js';
import type { Gpu } from '../gpu/device.js';
import type { ImageDataSpec, Split } from '../io/data-spec.js';
import type { ImageDataset } from '../io/dataset.js';
import { loadImageDataset as fromSpec } from './datasets.js';
import { directorySource } from './files.js';

/** Loads a model directory (config.json + model.safetensors or shards) from disk onto `gpu`. */
export function loadModelDir(gpu: Gpu, dir: string, options?: LoadModelOptions): Promise<Model> {
  return loadModel(gpu, directorySource(dir), options);
}

/**
 * One split of an image data set: from a `--data` spec on disk ("fashion-mnist", "mnist:DIR",
 * "cifar10:DIR", …), or, as in browsers and Deno, from the files' bytes.
 */
export function loadImageDataset(spec: string | ImageDataSpec, split: Split): Promise<ImageDataset>;
export function loadImageDataset(files: IdxFiles | CifarFiles): Promise<ImageDataset>;
export function loadImageDataset(
  what: string | ImageDataSpec | IdxFiles | CifarFiles,
  split?: Split,
): Promise<ImageDataset> {
  if (typeof what === 'string' || 'kind' in what) {
    if (split === undefined)
      throw new Error('loadImageDataset(spec, split): give the split, "train" or "test"');
    return fromSpec(what, split);
  }
  return fromFiles(what);
}
