// evaluateClassifier on a tiny synthetic data set: accuracy and mean cross-entropy against the f64 CPU
// reference forward pass of the same cifar-resnet.

import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { evaluateClassifier, type LabelledBatch } from '../../src/eval/classify.js';
import { ParamStore } from '../../src/nn/params.js';
import { CifarResnet } from '../../src/nn/resnet.js';
import { config } from '../arch/helpers.js';
import { crossEntropyRef } from '../helpers/cnn-reference.js';
import { useGpu } from '../helpers/gpu.js';
import { values } from '../helpers/reference.js';
import { randomParams, resnetRef, to64 } from '../nn/resnet-reference.js';

const getGpu = useGpu();

function argmax(v: ArrayLike<number>, row: number, cols: number): number {
  let best = 0;
  for (let j = 1; j < cols; j++) if (v[row * cols + j] > v[row * cols + best]) best = j;
  return best;
}

async function setup() {
  const gpu = await getGpu();
  const desc = describeModel(
    config({ architecture: 'cifar-resnet', depth: 20, shortcut: 'A', blocks: [1, 1, 1] }, [1, 8, 8]),
  );
  const arrays = randomParams(desc, 4);
  const params = ParamStore.fromArrays(gpu, desc, arrays);
  const model = new CifarResnet(gpu, desc, params);
  // 11 samples in batches of 4, 4, 3; labels: the reference's prediction for every third sample, else not.
  const total = 11;
  const xAll = values(total * 64, 17);
  const ref = resnetRef(desc, to64(arrays), xAll, total, false);
  const labels = new Int32Array(total);
  let right = 0;
  for (let i = 0; i < total; i++) {
    const pred = argmax(ref.logits, i, 10);
    labels[i] = i % 3 === 0 ? pred : (pred + 1 + (i % 9)) % 10;
    if (labels[i] === pred) right++;
  }
  const batches: LabelledBatch[] = [];
  for (let s = 0; s < total; s += 4) {
    const n = Math.min(4, total - s);
    batches.push({ x: xAll.slice(s * 64, (s + n) * 64), labels: labels.slice(s, s + n), n });
  }
  const want = { accuracy: right / total, loss: crossEntropyRef(ref.logits, labels, 10, 0).loss };
  return { gpu, model, params, batches, want, total };
}

describe('evaluateClassifier', () => {
  it('gives the reference accuracy exactly and its mean cross-entropy to 1e-5 relative', async () => {
    const { gpu, model, params, batches, want, total } = await setup();
    expect(want.accuracy).toBeGreaterThan(0);
    expect(want.accuracy).toBeLessThan(1);
    const progress: number[] = [];
    const got = await evaluateClassifier(gpu, model, batches, {
      onProgress: (p) => progress.push(p.samples),
    });
    expect(got.samples).toBe(total);
    expect(got.accuracy).toBe(want.accuracy);
    expect(Math.abs(got.loss - want.loss)).toBeLessThanOrEqual(1e-5 * want.loss);
    expect(progress).toEqual([4, 8, 11]);
    // An async iterable gives the same numbers.
    async function* stream() {
      for (const b of batches) yield b;
    }
    expect(await evaluateClassifier(gpu, model, stream())).toEqual(got);
    params.dispose();
  });

  it('rejects malformed batches and an empty stream with clear errors', async () => {
    const { gpu, model, params, batches } = await setup();
    const b = batches[0];
    await expect(evaluateClassifier(gpu, model, [{ ...b, x: b.x.subarray(1) }])).rejects.toThrow(
      /batch 0: x has 255 values, expected 4 x 1x8x8 = 256/,
    );
    await expect(evaluateClassifier(gpu, model, [{ ...b, labels: b.labels.subarray(1) }])).rejects.toThrow(
      /3 labels for 4 samples/,
    );
    await expect(evaluateClassifier(gpu, model, [])).rejects.toThrow(/no samples/);
    params.dispose();
  });
});
