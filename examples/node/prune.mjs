// SGLP from a Node script through the library (`sglp/node`; `npm run build` makes dist/), on either model
// family: an image classifier with an image data spec, or a LLaMA-family model with text:FILE. Writes the
// pruned model's files (the same bytes `sglp prune` writes) and prints the report as one JSON object.
// `--stream` opens a language model instead of loading it (`sglp prune --stream`: its decoder layers are
// read from the checkpoint one at a time, and the pruned file is written from it).
//
//   node examples/node/prune.mjs models/fortunes-llama12 --data text:/usr/share/games/fortunes/cookie \
//     --remove 6 --out /tmp/pruned [--stream]
//   node examples/node/prune.mjs models/fmnist-resnet56 --data fashion-mnist --remove 14 --out /tmp/pruned
import { mkdir } from 'node:fs/promises';
import {
  acquireDevice,
  exportFiles,
  exportModel,
  loadImageDataset,
  loadModelDir,
  loadTextFile,
  prune,
  writeExport,
} from 'sglp/node';

function parseArgs(args) {
  const o = { positional: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--data') o.data = args[++i];
    else if (a === '--out') o.out = args[++i];
    else if (a === '--remove') o.remove = Number(args[++i]);
    else if (a === '--stream') o.stream = true;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else o.positional.push(a);
  }
  if (o.positional.length !== 1 || !o.data || !o.out || !Number.isSafeInteger(o.remove)) {
    throw new Error('usage: prune.mjs MODEL_DIR --data SPEC --remove R --out DIR [--stream]');
  }
  return { model: o.positional[0], data: o.data, remove: o.remove, out: o.out, stream: o.stream ?? false };
}

const args = parseArgs(process.argv.slice(2));
const gpu = await acquireDevice();
try {
  const model = await loadModelDir(gpu, args.model, args.stream ? { stream: true } : {});
  try {
    const data = args.data.startsWith('text:')
      ? await loadTextFile(model, args.data.slice('text:'.length))
      : {
          train: await loadImageDataset(args.data, 'train'),
          test: await loadImageDataset(args.data, 'test'),
        };
    const result = await prune(model, data, {
      target: { remove: args.remove },
      dataSpec: args.data,
      input: args.model,
      output: args.out,
      onProgress: (p) => process.stderr.write(`${p.stage} ${p.done}/${p.total}\n`),
    });
    try {
      await mkdir(args.out, { recursive: true });
      await writeExport(
        args.out,
        args.stream ? exportFiles(model, result) : await exportModel(model, result),
      );
    } finally {
      result.view?.dispose();
      result.finetuned?.dispose();
    }
    process.stdout.write(`${JSON.stringify(result.report)}\n`);
  } finally {
    await model.dispose();
  }
} finally {
  gpu.destroy();
}
