// Fine-tuned tensors rounded (to nearest even) to the dtype they will be saved in, so that the model
// evaluated after fine-tuning is exactly the model written: a BF16 checkpoint stays BF16, its fine-tuned
// f32 values lose their low bits on the way out, and the report's perplexity must be the file's.

import type { SafetensorsDtype } from '../io/dtypes.js';
import type { ParamStore } from '../nn/params.js';
import { decodeBF16, decodeF16, encodeBF16, encodeF16 } from '../num/half.js';

/** Rounds every tensor of `store` that `savedAs` maps to F16 or BF16, in place; others are left alone. */
export async function roundToSaved(
  store: ParamStore,
  savedAs: ReadonlyMap<string, SafetensorsDtype>,
): Promise<void> {
  for (const key of store.keys()) {
    const dtype = savedAs.get(key);
    if (dtype !== 'F16' && dtype !== 'BF16') continue;
    const v = await store.gpu.readF32(store.get(key));
    store.write(key, dtype === 'F16' ? decodeF16(encodeF16(v)) : decodeBF16(encodeBF16(v)));
  }
}
