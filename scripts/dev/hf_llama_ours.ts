// Dev only (hf_llama_oracle.py bundles and runs it): our logits and mean next-token NLL for the windows in
// DIR/oracle.json, from the HF-format checkpoint in DIR, written to DIR/ours.json; with `remove` in
// oracle.json, also the logits of the model pruned by arch's pruneModel (layers dropped, keys renumbered).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeModel } from '../../src/arch/describe.js';
import { pruneModel } from '../../src/arch/prune.js';
import { readModelConfig } from '../../src/io/config.js';
import { openCheckpoint } from '../../src/io/safetensors-index.js';
import { Llama } from '../../src/nn/llama.js';
import { ParamStore } from '../../src/nn/params.js';
import { acquireDevice } from '../../src/node/device.js';
import { directorySource } from '../../src/node/files.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: node hf_llama_ours.mjs DIR');
const src = directorySource(dir);
const oracle = JSON.parse(await readFile(join(dir, 'oracle.json'), 'utf8')) as {
  ids: number[];
  B: number;
  T: number;
  remove?: number[];
};
const gpu = await acquireDevice();
const desc = describeModel(await readModelConfig(src));
const params = await ParamStore.load(gpu, desc, await openCheckpoint(src));
const model = new Llama(gpu, desc, params);
const tokens = model.tokens(oracle.ids, oracle.B, oracle.T);
const { logits } = await model.forward(tokens);
const values = Array.from(await gpu.readF32(logits));
const loss = await model.nextTokenLoss(oracle.ids, oracle.B, oracle.T);
let pruned: number[] | undefined;
if (oracle.remove) {
  const p = pruneModel(desc, oracle.remove);
  const store = await openCheckpoint(src);
  const arrays: Record<string, Float32Array> = {};
  for (const [oldKey, newKey] of p.keyMap)
    if (store.has(oldKey)) arrays[newKey] = await store.float32(oldKey);
  const pp = ParamStore.fromArrays(gpu, p.description, arrays);
  const pm = new Llama(gpu, p.description, pp);
  const out = await pm.forward(pm.tokens(oracle.ids, oracle.B, oracle.T));
  pruned = Array.from(await gpu.readF32(out.logits));
}
await writeFile(
  join(dir, 'ours.json'),
  JSON.stringify({ logits: values, nll: loss.nll, name: desc.name, pruned }),
);
gpu.destroy();
