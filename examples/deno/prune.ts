// SGLP in Deno, through the platform-neutral bundle (dist/index.js; `npm run build` makes it):
// CKA between the units of a model, then a prune, on navigator.gpu. Prints one JSON object on stdout.
//
//   deno run --unstable-webgpu --allow-read --allow-write examples/deno/prune.ts \
//     models/fmnist-resnet56 /usr/share/datasets/fashion-mnist --remove 14 --samples 500 --batch 250 \
//     --eval-limit 1000 [--score similarity|loss|gradnorm] [--recalibrate N] [--out DIR]
//   deno run --unstable-webgpu --allow-read --allow-write examples/deno/prune.ts \
//     models/fortunes-llama12 /usr/share/games/fortunes/cookie --remove 6 [--seq-len T] [--out DIR]
//
// MODEL is a directory with config.json + model.safetensors (and tokenizer.json for a language model);
// DATA holds MNIST-layout IDX files (train-images-idx3-ubyte.gz, …) for an image classifier, or is a
// UTF-8 text file for a language model. With --out DIR the pruned model's files are written there (each to
// a temporary name, then renamed).
import {
  acquireDevice,
  cka,
  exportModel,
  loadIdxSplits,
  loadModel,
  loadTextData,
  prune,
  segment,
} from '../../dist/index.js';

const NUMBER_FLAGS = {
  '--remove': 'remove',
  '--segments': 'segments',
  '--samples': 'samples',
  '--batch': 'batch',
  '--gradnorm-batches': 'gradnormBatches',
  '--gradnorm-batch-size': 'gradnormBatchSize',
  '--max-exhaustive': 'maxExhaustive',
  '--eval-limit': 'evalLimit',
  '--recalibrate': 'recalibrate',
  '--seq-len': 'seqLen',
} as const;
type Setting = (typeof NUMBER_FLAGS)[keyof typeof NUMBER_FLAGS];

function parseArgs(args: string[]) {
  const positional: string[] = [];
  const n: Partial<Record<Setting, number>> = {};
  let out: string | undefined;
  let score: 'similarity' | 'loss' | 'gradnorm' | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--out') out = args[++i];
    else if (a === '--score') score = args[++i] as typeof score;
    else if (a in NUMBER_FLAGS) {
      const v = Number(args[++i]);
      const min = a === '--recalibrate' ? 0 : 1;
      if (!Number.isSafeInteger(v) || v < min)
        throw new Error(`${a} needs a whole number >= ${min}, got "${args[i]}"`);
      n[NUMBER_FLAGS[a as keyof typeof NUMBER_FLAGS]] = v;
    } else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else positional.push(a);
  }
  if (positional.length !== 2 || n.remove === undefined) {
    throw new Error('usage: prune.ts MODEL_DIR DATA_DIR --remove R [--samples N --batch B …] [--out DIR]');
  }
  return { model: positional[0], data: positional[1], n, out, score };
}

/** Every file of a directory, by name (the API takes bytes, so it runs the same everywhere). */
async function readDir(dir: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(dir))
    if (e.isFile) files.set(e.name, await Deno.readFile(`${dir}/${e.name}`));
  return files;
}

async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  await Deno.writeFile(tmp, bytes);
  await Deno.rename(tmp, path);
}

const { model: modelDir, data: dataDir, n, out, score } = parseArgs(Deno.args);
const gpu = await acquireDevice();
try {
  const model = await loadModel(gpu, await readDir(modelDir));
  const data =
    model.kind === 'causal-lm'
      ? await loadTextData(model, await Deno.readFile(dataDir), { name: dataDir, seqLen: n.seqLen })
      : await loadIdxSplits(await readDir(dataDir), dataDir);
  const log = (p: { stage: string; done: number; total: number }) =>
    console.error(`${p.stage} ${p.done}/${p.total}`);
  const similarity = await cka(model, data.train, { samples: n.samples, batch: n.batch });
  const segmentation = segment(similarity, { segments: n.segments });
  const result = await prune(model, data, {
    target: { remove: n.remove as number },
    segments: n.segments,
    samples: n.samples,
    batch: n.batch,
    gradnormBatches: n.gradnormBatches,
    gradnormBatchSize: n.gradnormBatchSize,
    maxExhaustive: n.maxExhaustive,
    evalLimit: n.evalLimit,
    score,
    recalibrate: n.recalibrate,
    onProgress: log,
  });
  if (out) {
    const exported = await exportModel(model, result);
    await Deno.mkdir(out, { recursive: true });
    for (const [name, bytes] of exported.files) await writeAtomic(`${out}/${name}`, bytes);
  }
  const r = result.report;
  console.log(
    JSON.stringify({
      adapter: gpu.adapter,
      units: similarity.units,
      cka: similarity.matrix,
      segments: segmentation.segments,
      kept: r.kept,
      removed: r.removed,
      metrics: r.metrics,
    }),
  );
  result.view?.dispose();
  await model.dispose();
} finally {
  gpu.destroy();
}
