// A model loaded onto the device from its files, of either family: an image classifier (config,
// description, tensors, and the few bytes an export carries over unchanged: BN num_batches_tracked) or a
// causal LM (model-lm.ts: its tokenizer and the open checkpoint, which the export copies tensors from),
// loaded, or opened for layer streaming (`stream`: nothing loaded, the layers read one at a time).

import { describeModel } from '../arch/describe.js';
import type { ModelDescription } from '../arch/types.js';
import type { Gpu } from '../gpu/device.js';
import type { Normalize } from '../io/batches.js';
import { type CnnConfig, readModelConfig } from '../io/config.js';
import type { SafetensorsDtype } from '../io/dtypes.js';
import { openCheckpoint } from '../io/safetensors-index.js';
import type { TensorToWrite } from '../io/safetensors-write.js';
import { type ClassifierModel, createClassifier } from '../nn/model.js';
import { ParamStore, type Precision } from '../nn/params.js';
import {
  type LanguageModel,
  loadLanguageModel,
  type StreamedLanguageModel,
  type StreamOptions,
} from './model-lm.js';
import { type ModelSource, toDirectory } from './sources.js';

export type { LanguageModel, StreamedLanguageModel, StreamOptions } from './model-lm.js';

export interface LoadModelOptions {
  /** Check every value for NaN/Inf and negative running variances (default true). */
  readonly checkValues?: boolean;
  /** Language models: the weight matrices' dtype on the device (default f32; f16 needs shader-f16). */
  readonly precision?: Precision;
  readonly signal?: AbortSignal;
}

/** loadModel's options for a language model opened for layer streaming (`sglp prune --stream`). */
export interface StreamModelOptions extends LoadModelOptions {
  /** Nothing is loaded: every stage reads the decoder layers one at a time from the checkpoint. */
  readonly stream: true | StreamOptions;
}

/** An image classifier on the device. Call dispose() when done with it (the Gpu stays open). */
export interface ImageModel {
  readonly kind: 'classifier';
  readonly gpu: Gpu;
  /** Where it came from, for messages and reports. */
  readonly name: string;
  readonly config: CnnConfig;
  readonly desc: ModelDescription;
  readonly params: ParamStore;
  readonly normalize: Normalize;
  /** Tensors of the checkpoint the description does not load, kept as bytes for exports. */
  readonly carried: ReadonlyMap<string, TensorToWrite>;
  dispose(): void;
}

/** A model on the device, of either family (`kind` tells which). */
export type Model = ImageModel | LanguageModel;

/** Any model the library's verbs take: one on the device, or a language model streamed from its checkpoint. */
export type AnyModel = Model | StreamedLanguageModel;

/**
 * Loads `config.json` + safetensors (one file or shards) onto `gpu`: an image classifier, or a
 * LlamaForCausalLM checkpoint (with tokenizer.json when present). A missing file, unknown architecture or
 * missing/mis-shaped tensor is an error naming it. With `stream`, a language model is opened instead of
 * loaded: cka, prune and evaluate then read its decoder layers one at a time from the checkpoint.
 */
export function loadModel(
  gpu: Gpu,
  source: ModelSource,
  options: StreamModelOptions,
): Promise<StreamedLanguageModel>;
export function loadModel(gpu: Gpu, source: ModelSource, options?: LoadModelOptions): Promise<Model>;
export async function loadModel(
  gpu: Gpu,
  source: ModelSource,
  options: LoadModelOptions & { readonly stream?: true | StreamOptions } = {},
): Promise<AnyModel> {
  const dir = toDirectory(source);
  options.signal?.throwIfAborted();
  if (!(await dir.has('config.json'))) {
    throw new Error(`${dir.name}: no config.json (a model is config.json + model.safetensors)`);
  }
  const config = await readModelConfig(dir);
  if (config.kind === 'llm') return loadLanguageModel(gpu, dir, config, options);
  if (options.stream) {
    throw new Error(`stream: ${dir.name} is an image classifier; layer streaming is for language models`);
  }
  if (options.precision !== undefined && options.precision !== 'f32') {
    throw new Error(`precision ${options.precision}: ${dir.name} is an image classifier, loaded as f32`);
  }
  const desc = describeModel(config);
  const store = await openCheckpoint(dir);
  try {
    options.signal?.throwIfAborted();
    const params = await ParamStore.load(gpu, desc, store, { checkValues: options.checkValues ?? true });
    const carried = new Map<string, TensorToWrite>();
    for (const key of desc.ignoredKeys) {
      if (!store.has(key)) continue;
      const info = store.info(key);
      carried.set(key, {
        dtype: info.dtype as SafetensorsDtype,
        shape: info.shape,
        data: await store.bytes(key),
      });
    }
    return {
      kind: 'classifier',
      gpu,
      name: dir.name,
      config,
      desc,
      params,
      normalize: config.normalize,
      carried,
      dispose: () => params.dispose(),
    };
  } finally {
    await store.close();
  }
}

/** The runnable network of an image model. */
export function networkOf(model: ImageModel): ClassifierModel {
  return createClassifier(model.gpu, model.desc, model.params);
}
