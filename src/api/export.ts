// A pruned model as the bytes of its files, ready to save or download: the same files `sglp prune` writes.
// exportModel gives every file whole; exportFiles gives model.safetensors as chunks, one tensor at a time.

import { encodeSafetensors, serializeSafetensors, type TensorToWrite } from '../io/safetensors-write.js';
import { prunedConfigJson, prunedHfConfigJson, prunedTensors, prunedTensorsAs } from '../sglp/export.js';
import type { AnyModel } from './model.js';
import type { PruneResult } from './run.js';

export interface ExportedModel {
  /** config.json's text. */
  readonly config: string;
  /**
   * model.safetensors' bytes: images F32 with PyTorch state-dict names (num_batches_tracked carried over);
   * language models Hugging Face names, each tensor in the dtype the prune's `saveDtype` gives it.
   */
  readonly safetensors: Uint8Array;
  /** Every file by name: config.json, model.safetensors and, for language models, the tokenizer files. */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

/** exportModel's files with model.safetensors as chunks (iterate them while the model is open). */
export interface ExportedFiles {
  readonly config: string;
  /** Every file by name, as exportModel's; model.safetensors' chunks are produced as they are read. */
  readonly files: ReadonlyMap<string, Uint8Array | AsyncIterable<Uint8Array>>;
}

const METADATA = { format: 'pt', pruned_by: 'sglp' };

/** The pruned model's tensors, config.json text and side files (exportFiles, exportModel). */
function planExport(model: AnyModel, result: PruneResult) {
  const { pruned, finetuned, view } = result;
  const source = finetuned ?? view;
  let tensors: Map<string, TensorToWrite>;
  let config: string;
  const side = new Map<string, Uint8Array>();
  if (model.kind === 'classifier') {
    if (!source) throw new Error('exportModel: the prune result holds no tensors');
    tensors = prunedTensors(pruned, source, (oldKey) => model.carried.get(oldKey));
    config = prunedConfigJson(pruned);
  } else {
    const save = result.report.protocol.saveDtype ?? 'auto';
    tensors = prunedTensorsAs(pruned, source, {
      input: model.checkpoint,
      save,
      unchanged: finetuned === undefined,
    });
    config = prunedHfConfigJson(model.configText, pruned, `${model.name}/config.json`, save);
    for (const [name, bytes] of model.sideFiles) side.set(name, bytes);
  }
  return { tensors, config, side };
}

/**
 * exportModel's files with model.safetensors as chunks, one tensor at a time, read as they are iterated
 * (a streamed model's pruned file is never assembled in memory; iterate while the model is open).
 */
export function exportFiles(model: AnyModel, result: PruneResult): ExportedFiles {
  const { tensors, config, side } = planExport(model, result);
  return {
    config,
    files: new Map<string, Uint8Array | AsyncIterable<Uint8Array>>([
      ['config.json', new TextEncoder().encode(config)],
      ['model.safetensors', encodeSafetensors(tensors, METADATA).chunks()],
      ...side,
    ]),
  };
}

/**
 * config.json + model.safetensors (+ an LM's tokenizer and generation files) of the pruned model: the
 * fine-tuned weights when the prune fine-tuned, else the pruned ones (an LM's unchanged tensors are the
 * input's bytes, read from its checkpoint; a streamed LM's are all of them).
 */
export async function exportModel(model: AnyModel, result: PruneResult): Promise<ExportedModel> {
  const { tensors, config, side } = planExport(model, result);
  const safetensors = await serializeSafetensors(tensors, METADATA);
  return {
    config,
    safetensors,
    files: new Map([
      ['config.json', new TextEncoder().encode(config)],
      ['model.safetensors', safetensors],
      ...side,
    ]),
  };
}
