// The pruned model as files' contents (pure: the CLI writes them): config.json text and the tensors of
// model.safetensors under their new names, each read from the device only when it is written.

import type { PrunedModel } from '../arch/prune.js';
import type { TensorToWrite } from '../io/safetensors-write.js';
import type { ParamView } from './importance.js';

/** config.json of the pruned model. */
export function prunedConfigJson(pruned: PrunedModel): string {
  return `${JSON.stringify(pruned.config, null, 2)}\n`;
}

/**
 * Every tensor of the pruned model, in its state_dict order, as F32 read lazily from the view. Tensors the
 * description does not load (BN `num_batches_tracked`) come from `carried(oldKey)` when it gives them
 * (e.g. the input checkpoint's bytes), so that PyTorch's strict load_state_dict accepts the file.
 */
export function prunedTensors(
  pruned: PrunedModel,
  view: ParamView,
  carried?: (oldKey: string) => TensorToWrite | undefined,
): Map<string, TensorToWrite> {
  const out = new Map<string, TensorToWrite>();
  const gpu = view.gpu;
  for (const p of pruned.description.params) {
    out.set(p.key, { dtype: 'F32', shape: p.shape, data: async () => gpu.readF32(view.get(p.key)) });
  }
  if (carried) {
    for (const [oldKey, newKey] of pruned.keyMap) {
      if (out.has(newKey) || !pruned.description.ignoredKeys.includes(newKey)) continue;
      const t = carried(oldKey);
      if (t) out.set(newKey, t);
    }
  }
  return out;
}
