// The model family of a loaded model and its data (src/sglp/family.ts): the one place where the API tells
// an image classifier from a causal LM (loaded, or streamed from its checkpoint); cka, prune and evaluate
// then drive the family the same way.

import type { ClassifierMetrics } from '../eval/classify.js';
import type { PerplexityMetrics } from '../eval/perplexity.js';
import type { ImageDataset } from '../io/dataset.js';
import type { TextWindows } from '../io/text-data.js';
import { savedDtypes } from '../sglp/export.js';
import { ImageFamily, type ImageOptions } from '../sglp/families/image/family.js';
import { LoadedLm, type LoadedLmOptions } from '../sglp/families/lm/loaded.js';
import { StreamedLm } from '../sglp/families/lm/streamed.js';
import type { ModelFamily } from '../sglp/family.js';
import { checkFits } from './data.js';
import type { AnyModel } from './model.js';

/** A split of either family's data: images, or windows of tokens. */
export type Split = ImageDataset | TextWindows;

const isText = (d: Split): d is TextWindows => 'seqLen' in d;

/** The data must be the model's kind (images of its shape, or text windows). */
export function checkData(model: AnyModel, split: Split): void {
  if (model.kind === 'causal-lm') {
    if (!isText(split)) {
      throw new Error(
        `${model.name} is a language model: give text windows (loadTextData), not ${split.name}`,
      );
    }
    return;
  }
  if (isText(split)) {
    throw new Error(`${model.name} is an image classifier: give images (loadImageDataset), not text`);
  }
  checkFits(split, model.desc.input, model.desc.numClasses, model.name);
}

/** Options a family takes beyond the pipeline's: both families' (each reads its own). */
export type FamilyOptions = ImageOptions & Omit<LoadedLmOptions, 'finetune' | 'precision'>;

/** The family of `model` over `data`; an LM's fine-tuning rounds to the dtype its export saves. */
export function familyOf(
  model: AnyModel,
  data: { readonly train: Split; readonly test: Split },
  options: FamilyOptions,
): ModelFamily<ClassifierMetrics> | ModelFamily<PerplexityMetrics> {
  checkData(model, data.train);
  checkData(model, data.test);
  const { gpu, desc } = model;
  if (model.kind === 'classifier') {
    const train = data.train as ImageDataset;
    const test = data.test as ImageDataset;
    const { params, normalize } = model;
    return new ImageFamily({ gpu, desc, params, normalize, train, test }, options);
  }
  const inputs = { gpu, desc, train: data.train as TextWindows, test: data.test as TextWindows };
  if (model.streamed) {
    const { checkpoint: store, perBatch, hostStates } = model;
    return new StreamedLm(inputs, { store, perBatch, hostStates }, options);
  }
  const save = options.saveDtype ?? 'auto';
  const finetune = options.finetune && {
    ...options.finetune,
    // Evaluated as written: rounded to the dtype each tensor is saved in (as `sglp prune` does).
    savedAs: (pruned: Parameters<typeof savedDtypes>[0]) =>
      savedDtypes(pruned, { input: model.checkpoint, save, unchanged: false }),
  };
  return new LoadedLm(inputs, model.params, { ...options, precision: model.precision, finetune });
}
