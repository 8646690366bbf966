// Dev-only helper of torch_oracle.py: eval-mode logits of a model directory, written as raw float32
// (little-endian, [n, classes]), through the built library (dist/node.js) on the path `sglp eval` takes
// (checkpoint checked and loaded, BN folded into the convs).
//   node scripts/dev/sglp_logits.mjs DIR --out FILE (--limit N | --inputs FILE.f32 --n N) [--batch B]
// --limit: the first N Fashion-MNIST test images, normalised as the config says; --inputs: NCHW values.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { acquireDevice, arch, directorySource, io, loadImageDataset, nn } from '../../dist/node.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    out: { type: 'string' },
    limit: { type: 'string' },
    inputs: { type: 'string' },
    n: { type: 'string' },
    batch: { type: 'string', default: '128' },
  },
});
const dir = positionals[0];
if (!dir || !values.out || (!values.limit && !(values.inputs && values.n))) {
  throw new Error('usage: sglp_logits.mjs DIR --out FILE (--limit N | --inputs FILE --n N) [--batch B]');
}
const batch = Number(values.batch);
const source = directorySource(dir);
const config = await io.readModelConfig(source);
const desc = arch.describeModel(config);
const gpu = await acquireDevice();
const store = await io.openCheckpoint(source);
const params = await nn.ParamStore.load(gpu, desc, store);
await store.close();
// CIFAR ResNets run through CifarResnet; other architectures through createClassifier where it exists.
const model =
  config.architecture === 'cifar-resnet' || !nn.createClassifier
    ? new nn.CifarResnet(gpu, desc, params)
    : nn.createClassifier(gpu, desc, params);
if (model.freezeForEval) await model.freezeForEval();

const [c, h, w] = desc.input;
const per = c * h * w;
let inputs;
if (values.inputs) {
  const b = readFileSync(values.inputs);
  inputs = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  if (inputs.length !== Number(values.n) * per)
    throw new Error(`${values.inputs}: expected ${values.n} x ${per}`);
} else {
  const ds = await loadImageDataset('fashion-mnist', 'test');
  const parts = [];
  for (const b of io.imageBatches(ds, {
    batchSize: batch,
    normalize: config.normalize,
    limit: Number(values.limit),
  }))
    parts.push(b.x);
  inputs = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    inputs.set(p, o);
    o += p.length;
  }
}
const n = inputs.length / per;
const chunks = [];
for (let i = 0; i < n; i += batch) {
  const m = Math.min(batch, n - i);
  chunks.push(
    await gpu.scope(async () => {
      const x = gpu.tensor(inputs.subarray(i * per, (i + m) * per), [m, c, h, w]);
      const { logits } = await model.forward(x, { mode: 'eval' });
      return gpu.readF32(logits);
    }),
  );
  process.stderr.write(`\rsglp logits ${i + m}/${n}`);
}
process.stderr.write('\n');
const all = Buffer.concat(chunks.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
writeFileSync(`${values.out}.tmp`, all);
renameSync(`${values.out}.tmp`, values.out);
gpu.destroy();
