// The pruned model as files' contents (pure: the CLI writes them): config.json text and the tensors of
// model.safetensors under their new names, each read from the device only when it is written: either
// the pruned view over the loaded tensors, or the fine-tuned copy (a ParamStore under the same names).

import type { PrunedModel } from '../arch/prune.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import type { TensorToWrite } from '../io/safetensors-write.js';

/** The pruned model's tensors by their new keys: a ParamView (no fine-tuning) or a ParamStore. */
export interface PrunedTensorSource {
  readonly gpu: Gpu;
  get(key: string): Tensor;
}

/** config.json of the pruned model. */
export function prunedConfigJson(pruned: PrunedModel): string {
  return `${JSON.stringify(pruned.config, null, 2)}\n`;
}

/**
 * Every tensor of the pruned model, in its state_dict order, as F32 read lazily from `source`. Tensors the
 * description does not load (BN `num_batches_tracked`) come from `carried(oldKey)` when it gives them
 * (e.g. the input checkpoint's bytes), so that PyTorch's strict load_state_dict accepts the file.
 */
export function prunedTensors(
  pruned: PrunedModel,
  source: PrunedTensorSource,
  carried?: (oldKey: string) => TensorToWrite | undefined,
): Map<string, TensorToWrite> {
  const out = new Map<string, TensorToWrite>();
  const gpu = source.gpu;
  for (const p of pruned.description.params) {
    out.set(p.key, { dtype: 'F32', shape: p.shape, data: async () => gpu.readF32(source.get(p.key)) });
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

/**
 * Files of a Hugging Face model directory that a pruned LLM carries over unchanged (tokenizer and
 * generation settings), when the input has them.
 */
export const HF_SIDE_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'tokenizer.model',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
  'generation_config.json',
  'chat_template.jinja',
] as const;

/**
 * config.json of a pruned decoder LM from the input's config.json text: every field kept as it was, but
 * num_hidden_layers, and per-layer lists (`layer_types`) cut to the kept layers.
 */
export function prunedHfConfigJson(inputConfig: string, pruned: PrunedModel, source = 'config.json'): string {
  let cfg: unknown;
  try {
    cfg = JSON.parse(inputConfig);
  } catch (e) {
    throw new Error(`${source}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) {
    throw new Error(`${source}: expected a JSON object`);
  }
  const obj = { ...(cfg as Record<string, unknown>) };
  const layers = obj.num_hidden_layers;
  const total = pruned.kept.length + pruned.removed.length;
  if (layers !== total) {
    throw new Error(
      `${source}: num_hidden_layers is ${String(layers)}, but the pruned model had ${total} layers`,
    );
  }
  obj.num_hidden_layers = pruned.kept.length;
  if (Array.isArray(obj.layer_types) && obj.layer_types.length === total) {
    const types = obj.layer_types;
    obj.layer_types = pruned.kept.map((i) => types[i]);
  }
  return `${JSON.stringify(obj, null, 2)}\n`;
}
