// Builds the browser page into web/dist/: the page, its bundle (the library with shaders inlined) and the
// demos: the bundled image model (models/fmnist-resnet56) with a slice of Fashion-MNIST from Debian's
// dataset-fashion-mnist, and the bundled language model (models/fortunes-llama12) with the fortunes text it
// was trained on (Debian's fortunes), so that the page needs nothing beyond its own origin.
//   node scripts/build-web.mjs [--no-demo] [--out DIR]   (default web/dist)
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const outAt = process.argv.indexOf('--out');
const OUT = outAt > 0 ? process.argv[outAt + 1] : 'web/dist';
if (!OUT) throw new Error('--out needs a directory');
const DEMO_MODEL = 'models/fmnist-resnet56';
const DEMO_LM = 'models/fortunes-llama12';
const FORTUNES = process.env.SGLP_FORTUNES ?? '/usr/share/games/fortunes/cookie';
/** The text protocol's defaults (docs/method.md), written out so that the form shows them. */
const DEMO_LM_SETTINGS = {
  remove: 6,
  samples: 16,
  batch: 4,
  gradnormBatches: 2,
  gradnormBatchSize: 4,
  maxExhaustive: 2000,
  evalLimit: '',
  seqLen: 128,
};
const FASHION = process.env.SGLP_FASHION_MNIST ?? '/usr/share/datasets/fashion-mnist';
/** Enough for the demo settings: 500 calibration samples, GradNorm on 32, accuracy on 1,000 test images. */
const SLICE = { train: 1000, t10k: 1000 };
const DEMO_SETTINGS = {
  remove: 14,
  samples: 500,
  batch: 250,
  gradnormBatches: 1,
  gradnormBatchSize: 32,
  maxExhaustive: 100,
  evalLimit: 1000,
};

/** The first n items of a gz IDX file (images [N,H,W] or labels [N]), gzipped again. */
function idxSlice(file, n) {
  const b = gunzipSync(readFileSync(file));
  const rank = b[3];
  const dims = Array.from({ length: rank }, (_, i) => b.readUInt32BE(4 + 4 * i));
  if (dims[0] < n) throw new Error(`${file}: only ${dims[0]} items, the demo needs ${n}`);
  const per = dims.slice(1).reduce((a, d) => a * d, 1);
  const head = Buffer.from(b.subarray(0, 4 + 4 * rank));
  head.writeUInt32BE(n, 4);
  return gzipSync(Buffer.concat([head, b.subarray(4 + 4 * rank, 4 + 4 * rank + n * per)]));
}

const tmp = `${OUT}.tmp`;
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
try {
  await build({
    entryPoints: ['web/main.ts'],
    outfile: path.join(tmp, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    loader: { '.wgsl': 'text' },
    logLevel: 'warning',
  });
} catch {
  process.exit(1); // esbuild has printed the errors
}
copyFileSync('web/index.html', path.join(tmp, 'index.html'));
copyFileSync('web/style.css', path.join(tmp, 'style.css'));

if (!process.argv.includes('--no-demo')) {
  const data = path.join(tmp, 'demo', 'data');
  const model = path.join(tmp, 'demo', 'model');
  mkdirSync(data, { recursive: true });
  mkdirSync(model, { recursive: true });
  for (const f of ['config.json', 'model.safetensors'])
    copyFileSync(path.join(DEMO_MODEL, f), path.join(model, f));
  if (!existsSync(path.join(FASHION, 'train-images-idx3-ubyte.gz'))) {
    console.warn(
      `build-web: no Fashion-MNIST in ${FASHION} (dataset-fashion-mnist); the demo button will say so`,
    );
  } else {
    for (const [prefix, n] of Object.entries(SLICE)) {
      for (const kind of ['images-idx3', 'labels-idx1']) {
        const name = `${prefix}-${kind}-ubyte.gz`;
        writeFileSync(path.join(data, name), idxSlice(path.join(FASHION, name), n));
      }
    }
    writeFileSync(
      path.join(tmp, 'demo', 'demo.json'),
      `${JSON.stringify({ model: 'fmnist-resnet56', data: `Fashion-MNIST, first ${SLICE.train} train / ${SLICE.t10k} test`, settings: DEMO_SETTINGS }, null, 2)}\n`,
    );
  }
}
if (!process.argv.includes('--no-demo')) {
  const model = path.join(tmp, 'demo-lm', 'model');
  const data = path.join(tmp, 'demo-lm', 'data');
  mkdirSync(model, { recursive: true });
  mkdirSync(data, { recursive: true });
  const modelFiles = ['config.json', 'model.safetensors', 'tokenizer.json'].filter((f) =>
    existsSync(path.join(DEMO_LM, f)),
  );
  for (const f of modelFiles) copyFileSync(path.join(DEMO_LM, f), path.join(model, f));
  if (!existsSync(FORTUNES)) {
    console.warn(`build-web: no ${FORTUNES} (Debian's fortunes); the language-model demo button will say so`);
  } else {
    copyFileSync(FORTUNES, path.join(data, 'text.txt'));
    writeFileSync(
      path.join(tmp, 'demo-lm', 'demo.json'),
      `${JSON.stringify({ model: 'fortunes-llama12', data: path.basename(FORTUNES), modelFiles, settings: DEMO_LM_SETTINGS }, null, 2)}\n`,
    );
  }
}
rmSync(OUT, { recursive: true, force: true });
renameSync(tmp, OUT);
console.log(`build-web: ${OUT}/ (open it through any static server, e.g. npm run web)`);
