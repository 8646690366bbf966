// The pruned model as files' contents (pure: the CLI writes them): config.json text and the tensors of
// model.safetensors under their new names, each produced only when it is written: read from the device
// (the pruned view over the loaded tensors, or the fine-tuned copy, a ParamStore under the same names), or,
// for a language model kept in its input dtype without fine-tuning, copied byte for byte from the input
// checkpoint (so a BF16 model stays BF16 and every kept tensor is exactly the input's).

import type { PrunedModel } from '../arch/prune.js';
import type { Gpu } from '../gpu/device.js';
import type { Tensor } from '../gpu/tensor.js';
import type { SafetensorsDtype } from '../io/dtypes.js';
import { OptionError } from '../io/option-error.js';
import { inverseKeyMap } from '../io/renamed-store.js';
import type { TensorStore } from '../io/safetensors.js';
import type { TensorToWrite } from '../io/safetensors-write.js';

/** `--save-dtype`: auto = each tensor in its input dtype; or one float dtype for every tensor. */
export const SAVE_DTYPES = ['auto', 'f32', 'f16', 'bf16'] as const;
export type SaveDtype = (typeof SAVE_DTYPES)[number];

const SAVE_AS: Readonly<Record<Exclude<SaveDtype, 'auto'>, SafetensorsDtype>> = {
  f32: 'F32',
  f16: 'F16',
  bf16: 'BF16',
};

/** The dtypes the writer produces from device f32 (narrowing to F16/BF16 rounds to nearest even). */
const CONVERTIBLE: readonly SafetensorsDtype[] = ['F32', 'F16', 'BF16'];

/** config.json's torch_dtype for a dtype every float tensor is saved in. */
const TORCH_DTYPE: Readonly<Record<Exclude<SaveDtype, 'auto'>, string>> = {
  f32: 'float32',
  f16: 'float16',
  bf16: 'bfloat16',
};

/** `--save-dtype` checked. */
export function parseSaveDtype(value: string | undefined): SaveDtype {
  if (value === undefined) return 'auto';
  if (!(SAVE_DTYPES as readonly string[]).includes(value)) {
    throw new OptionError(
      'saveDtype',
      (n) => `${n('saveDtype')} must be one of ${SAVE_DTYPES.join(', ')}, got "${value}"`,
    );
  }
  return value as SaveDtype;
}

/**
 * The dtype a tensor is saved in: the input's under auto (F32 when the values changed and the input dtype
 * is not one the device's f32 converts to, e.g. F64), else the one asked for.
 */
export function savedDtype(
  save: SaveDtype,
  inputDtype: SafetensorsDtype,
  unchanged: boolean,
): SafetensorsDtype {
  if (save !== 'auto') return SAVE_AS[save];
  return unchanged || CONVERTIBLE.includes(inputDtype) ? inputDtype : 'F32';
}

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

/** What the export needs of the input checkpoint: each tensor's dtype and raw bytes, by its original key. */
export type InputTensors = Pick<TensorStore, 'name' | 'has' | 'info' | 'bytes' | 'float32'>;

export interface DtypeExportOptions {
  /** The checkpoint the model was loaded from (kept open until the file is written). */
  readonly input: InputTensors;
  readonly save: SaveDtype;
  /**
   * True when `source` holds the input's values (no fine-tuning): a tensor saved in its input dtype is then
   * copied from the input's bytes instead of read back from the device.
   */
  readonly unchanged: boolean;
}

/** How each tensor of the pruned model (by its new key) is saved: its input key and dtype, and the saved dtype. */
export interface SavedTensor {
  readonly oldKey: string;
  readonly input: SafetensorsDtype;
  readonly saved: SafetensorsDtype;
}

export function savePlan(pruned: PrunedModel, options: DtypeExportOptions): Map<string, SavedTensor> {
  const { input, save, unchanged } = options;
  const oldKeyOf = inverseKeyMap(pruned.keyMap);
  const plan = new Map<string, SavedTensor>();
  for (const p of pruned.description.params) {
    const oldKey = oldKeyOf.get(p.key);
    if (oldKey === undefined || !input.has(oldKey)) {
      throw new Error(`export: ${input.name} has no tensor for "${p.key}" (from "${oldKey ?? '?'}")`);
    }
    const inDtype = input.info(oldKey).dtype as SafetensorsDtype;
    plan.set(p.key, { oldKey, input: inDtype, saved: savedDtype(save, inDtype, unchanged) });
  }
  return plan;
}

/** The dtype each tensor of the pruned model is saved in, by its new key. */
export function savedDtypes(pruned: PrunedModel, options: DtypeExportOptions): Map<string, SafetensorsDtype> {
  return new Map([...savePlan(pruned, options)].map(([k, t]) => [k, t.saved]));
}

/**
 * Every tensor of a pruned model in its state_dict order, each in the dtype `options.save` gives it (no
 * `source` is needed when the values are unchanged: a streamed prune writes without the device): copied
 * byte for byte from the input checkpoint (under its new key) when the values are unchanged and the dtype
 * stays, converted from the input's values when only the dtype changes, else read back from `source` as
 * f32; narrowing rounds to nearest even on the way out.
 */
export function prunedTensorsAs(
  pruned: PrunedModel,
  source: PrunedTensorSource | undefined,
  options: DtypeExportOptions,
): Map<string, TensorToWrite> {
  if (!options.unchanged && !source) throw new Error('export: changed values need the device tensors');
  const out = new Map<string, TensorToWrite>();
  const plan = savePlan(pruned, options);
  for (const p of pruned.description.params) {
    const t = plan.get(p.key) as SavedTensor;
    // Unchanged values come from the input, never the device: its copy may be rounded (--precision f16).
    const data = !options.unchanged
      ? async () => {
          const src = source as PrunedTensorSource;
          return src.gpu.readF32(src.get(p.key));
        }
      : t.saved === t.input
        ? () => options.input.bytes(t.oldKey)
        : () => options.input.float32(t.oldKey, p.shape);
    out.set(p.key, { dtype: t.saved, shape: p.shape, data });
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
 * num_hidden_layers, per-layer lists (`layer_types`) cut to the kept layers, and, when every tensor was
 * saved in one dtype that `save` names, the dtype field (`torch_dtype`, and `dtype` where present).
 */
export function prunedHfConfigJson(
  inputConfig: string,
  pruned: PrunedModel,
  source = 'config.json',
  save: SaveDtype = 'auto',
): string {
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
  if (save !== 'auto') {
    // transformers >= 4.56 writes "dtype" (and reads either); older ones "torch_dtype".
    if ('dtype' in obj) obj.dtype = TORCH_DTYPE[save];
    if ('torch_dtype' in obj || !('dtype' in obj)) obj.torch_dtype = TORCH_DTYPE[save];
  }
  return `${JSON.stringify(obj, null, 2)}\n`;
}
