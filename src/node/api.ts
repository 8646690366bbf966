/**
 * Node conveniences of `sglp/node` over the portable API: a model from a directory path, a data set
 * from a `--data` spec or a text file, the exported files written to a directory, a training run's
 * directory (`runDirectory`, the store `train` commits its checkpoints to).
 *
 * @module sglp/node
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CifarFiles, loadImageDataset as fromFiles, type IdxFiles } from '../api/data.js';
import type { ExportedFiles, ExportedModel } from '../api/export.js';
import {
  type LoadModelOptions,
  loadModel,
  type Model,
  type StreamedLanguageModel,
  type StreamModelOptions,
} from '../api/model.js';
import { loadTextData, type TextData, type TextDataOptions } from '../api/text.js';
import type { Gpu } from '../gpu/device.js';
import type { ImageDataSpec, Split } from '../io/data-spec.js';
import type { ImageDataset } from '../io/dataset.js';
import { loadImageDataset as fromSpec } from './datasets.js';
import { directorySource, writeFileAtomic } from './files.js';

export { runDirectory } from './train-run-dir.js';

/**
 * Loads a model directory (config.json + model.safetensors or shards) from disk onto `gpu`; with `stream`,
 * opens a language model for layer streaming instead (`sglp prune --stream`).
 */
export function loadModelDir(
  gpu: Gpu,
  dir: string,
  options: StreamModelOptions,
): Promise<StreamedLanguageModel>;
export function loadModelDir(gpu: Gpu, dir: string, options?: LoadModelOptions): Promise<Model>;
export function loadModelDir(
  gpu: Gpu,
  dir: string,
  options?: LoadModelOptions | StreamModelOptions,
): Promise<Model | StreamedLanguageModel> {
  const source = directorySource(dir);
  return options && 'stream' in options ? loadModel(gpu, source, options) : loadModel(gpu, source, options);
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

/** The train and test windows of a UTF-8 text file for a language model (the CLI's `--data text:FILE`). */
export async function loadTextFile(
  model: Parameters<typeof loadTextData>[0],
  file: string,
  options: TextDataOptions = {},
): Promise<TextData> {
  return loadTextData(model, await readFile(file), { name: file, ...options });
}

/**
 * Writes every file of an export (exportModel's, or exportFiles' chunks) into `dir` (which must exist), each
 * to a temporary name, then renamed.
 */
export async function writeExport(
  dir: string,
  exported: Pick<ExportedModel, 'files'> | Pick<ExportedFiles, 'files'>,
): Promise<void> {
  for (const [name, bytes] of exported.files) await writeFileAtomic(join(dir, name), bytes);
}
