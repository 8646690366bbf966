// A ResNet-20 trained in PyTorch (test/fixtures/torch-resnet20, made by scripts/dev/torch_oracle.py
// --fixture: PyTorch's state_dict() names, num_batches_tracked included) run through the path `sglp eval`
// takes must give PyTorch's logits, predictions, accuracy and loss on the same Fashion-MNIST test images.
// No Python here: PyTorch's numbers are in the fixture's torch-reference.json, and the images they were
// computed on (the first 1,000 Fashion-MNIST test images) are in the fixture too, so this runs everywhere.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { evalCommand, loadModel } from '../../src/cli/eval.js';
import type { CliIo } from '../../src/cli/progress.js';
import { imageBatches } from '../../src/io/batches.js';
import { openCheckpoint } from '../../src/io/safetensors-index.js';
import { FASHION_MNIST_DIR, loadImageDataset } from '../../src/node/datasets.js';
import { directorySource } from '../../src/node/files.js';
import { readRunnableConfig } from '../../src/node/model-dir.js';
import { useGpu } from '../helpers/gpu.js';

const DIR = fileURLToPath(new URL('../fixtures/torch-resnet20/', import.meta.url));
const ref: {
  first1000: { accuracy: number; loss: number; samples: number };
  predictionsFirst1000: number[];
  minTop2GapFirst1000: number;
  logitsFirst64: number[][];
} = JSON.parse(readFileSync(join(DIR, 'torch-reference.json'), 'utf8'));

// Ours and PyTorch's sum in different orders (and fold BN into the convs): a few float32 ulps per layer.
// Measured on a PyTorch ResNet-56 (scripts/dev): 4.3e-7 of a row's largest |logit| on the first 64 test
// images, 1.3e-6 over all 10,000; 1e-5 still catches any wrong layer, index or BN statistic.
const LOGIT_TOL = 1e-5;
// Mean of 1000 per-sample float32 losses, summed in float64 on both sides.
const LOSS_TOL = 1e-5;

// The fixture's own copy of the images (MIT, see its README.md); Debian's package is not needed.
const DATA_DIR = join(DIR, 'fashion-mnist');
const DATA = `fashion-mnist:${DATA_DIR}`;
const haveFashionMnist = existsSync(join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz'));
const getGpu = useGpu();
const quiet: CliIo = { stdout: () => {}, stderr: () => {}, tty: false };

function argmax(row: ArrayLike<number>, from: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (row[from + j] > row[from + best]) best = j;
  return best;
}

/** Eval-mode logits of the first `limit` test images, in batches of 128, as `sglp eval` computes them. */
async function logitsOf(limit: number, folded: boolean): Promise<Float32Array> {
  const gpu = await getGpu();
  const config = await readRunnableConfig(DIR);
  const ds = await loadImageDataset(DATA, 'test');
  const { params, net } = await loadModel(gpu, DIR, config);
  try {
    if (folded) await net.freezeForEval();
    const parts: Float32Array[] = [];
    for (const b of imageBatches(ds, { batchSize: 128, normalize: config.normalize, limit })) {
      parts.push(
        await gpu.scope(async () => {
          const x = gpu.tensor(b.x, [b.size, ...net.desc.input]);
          return gpu.readF32((await net.forward(x, { mode: 'eval' })).logits);
        }),
      );
    }
    const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  } finally {
    net.unfreeze();
    params.dispose();
  }
}

/** The eval path's logits of the first 1000 images, computed once for the logit and prediction checks. */
let folded1000: Promise<Float32Array> | undefined;
function evalPathLogits(): Promise<Float32Array> {
  folded1000 ??= logitsOf(1000, true);
  return folded1000;
}

describe('PyTorch-trained ResNet-20 (fixture) against PyTorch', () => {
  it('is a real PyTorch checkpoint: state_dict names with num_batches_tracked', async () => {
    const store = await openCheckpoint(directorySource(DIR));
    try {
      const tracked = store.keys().filter((k) => k.endsWith('.num_batches_tracked'));
      expect(tracked).toHaveLength(19); // bn1 and two per block of 9
      expect(store.info('bn1.num_batches_tracked')).toMatchObject({ dtype: 'I64', shape: [] });
      expect(store.has('linear.weight')).toBe(true);
    } finally {
      await store.close();
    }
  });

  it.each([
    ['BN folded into the convs (the eval path)', true],
    ['BN on running statistics', false],
  ])('gives PyTorch eval-mode logits on the first 64 test images, %s', async (_, folded) => {
    const logits = folded ? (await evalPathLogits()).subarray(0, 640) : await logitsOf(64, false);
    const classes = ref.logitsFirst64[0].length;
    expect(logits.length).toBe(64 * classes);
    let worst = 0;
    for (let i = 0; i < 64; i++) {
      const row = ref.logitsFirst64[i];
      const scale = Math.max(...row.map(Math.abs));
      for (let j = 0; j < classes; j++)
        worst = Math.max(worst, Math.abs(logits[i * classes + j] - row[j]) / scale);
    }
    expect(worst).toBeLessThan(LOGIT_TOL);
  });

  it("gives PyTorch's predictions on the first 1000 test images", async () => {
    // Equal predictions are a fair demand only if no two top logits are closer than our rounding differences.
    expect(ref.minTop2GapFirst1000).toBeGreaterThan(5e-4);
    const logits = await evalPathLogits();
    const preds = Array.from({ length: 1000 }, (_, i) => argmax(logits, i * 10, 10));
    expect(preds).toEqual(ref.predictionsFirst1000);
  });

  it("sglp eval gives PyTorch's accuracy and loss on the first 1000 test images", async () => {
    const out: string[] = [];
    const result = await evalCommand(
      DIR,
      { data: DATA, limit: 1000, json: true },
      { gpu: await getGpu(), io: { ...quiet, stdout: (t) => out.push(t) } },
    );
    const printed = JSON.parse(out.join(''));
    expect(printed.samples).toBe(1000);
    expect(printed.accuracy).toBe(ref.first1000.accuracy);
    expect(Math.abs(printed.loss - ref.first1000.loss)).toBeLessThan(LOSS_TOL * ref.first1000.loss);
    expect(result.accuracy).toBe(printed.accuracy);
    // A trained net, not a degenerate one: the comparison means something.
    expect(ref.first1000.accuracy).toBeGreaterThan(0.5);
  });
});

describe('the fixture images', () => {
  it('are 1000 test images and labels', async () => {
    const ds = await loadImageDataset(DATA, 'test');
    expect(ds.n).toBe(1000);
    expect(ref.predictionsFirst1000).toHaveLength(1000);
  });

  // Only where Debian's package is installed; elsewhere vitest reports it as skipped, with this name.
  it.skipIf(!haveFashionMnist)(
    "equal the first 1000 of the published test split (needs Debian's dataset-fashion-mnist)",
    async () => {
      const mine = await loadImageDataset(DATA, 'test');
      const full = await loadImageDataset('fashion-mnist', 'test');
      expect(full.n).toBe(10_000);
      // Byte comparison: a deep toEqual over 784,000 elements is slow.
      expect(Buffer.from(mine.images).equals(full.images.subarray(0, 1000 * 784))).toBe(true);
      expect(Array.from(mine.labels)).toEqual(Array.from(full.labels.subarray(0, 1000)));
    },
  );
});
