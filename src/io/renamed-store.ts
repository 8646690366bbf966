// A TensorStore seen under other names: a pruned model's tensors (renumbered `model.layers.{i}`) read from
// the input checkpoint under their original keys, by offset as ever, so that the layer streams run a pruned
// candidate without copying anything. Only the renamed keys exist in the view.

import type { TensorStore } from './safetensors.js';
import type { TensorInfo } from './safetensors-header.js';

/** `store` under new names: `oldKeyOf` maps each visible (new) key to the key in `store`. */
export function renamedStore(store: TensorStore, oldKeyOf: ReadonlyMap<string, string>): TensorStore {
  const old = (key: string): string => {
    const k = oldKeyOf.get(key);
    if (k === undefined) throw new Error(`${store.name} (renamed view): no tensor "${key}"`);
    return k;
  };
  return {
    name: store.name,
    metadata: store.metadata,
    keys: () => [...oldKeyOf.keys()].filter((k) => store.has(old(k))),
    has: (key: string) => oldKeyOf.has(key) && store.has(old(key)),
    info: (key: string): TensorInfo => store.info(old(key)),
    bytes: async (key: string) => store.bytes(old(key)),
    float32: async (key: string, expectShape?: readonly number[]) => store.float32(old(key), expectShape),
    int32: async (key: string, expectShape?: readonly number[]) => store.int32(old(key), expectShape),
    // The underlying store is the caller's to close.
    close: async () => {},
  };
}

/** The new → old key map of a pruned model (arch/prune.ts's keyMap is old → new). */
export function inverseKeyMap(keyMap: ReadonlyMap<string, string>): Map<string, string> {
  const inverse = new Map<string, string>();
  for (const [oldKey, newKey] of keyMap) inverse.set(newKey, oldKey);
  return inverse;
}
