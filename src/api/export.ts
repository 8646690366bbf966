// A pruned model as the bytes of its two files, ready to save or download.

import { serializeSafetensors } from '../io/safetensors-write.js';
import { prunedConfigJson, prunedTensors } from '../sglp/export.js';
import type { PruneResult } from '../sglp/families/image/prune.js';
import type { Model } from './model.js';

export interface ExportedModel {
  /** config.json's text. */
  readonly config: string;
  /** model.safetensors' bytes (F32, PyTorch state-dict names, num_batches_tracked carried over). */
  readonly safetensors: Uint8Array;
  /** Both, by file name. */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

/** config.json + model.safetensors of the pruned model (reads the kept tensors from the device). */
export async function exportModel(model: Model, result: PruneResult): Promise<ExportedModel> {
  const tensors = prunedTensors(result.pruned, result.view, (oldKey) => model.carried.get(oldKey));
  const safetensors = await serializeSafetensors(tensors, { format: 'pt', pruned_by: 'sglp' });
  const config = prunedConfigJson(result.pruned);
  return {
    config,
    safetensors,
    files: new Map([
      ['config.json', new TextEncoder().encode(config)],
      ['model.safetensors', safetensors],
    ]),
  };
}
