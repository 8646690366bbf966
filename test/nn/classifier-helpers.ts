// Shared by the nn/ model tests: labels, GPU train-mode gradients of any ClassifierModel, and the check of
// sampled gradient entries against central differences of an f64 reference loss.

import { expect } from 'vitest';
import type { Gpu } from '../../src/gpu/device.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import type { ClassifierModel } from '../../src/nn/model.js';
import { softmaxCrossEntropy, uploadLabels } from '../../src/ops/index.js';
import { numericGrad, worstVsMax } from '../helpers/grad-check.js';
import { values } from '../helpers/reference.js';
import type { Params64 } from './resnet-reference.js';

export function labelsFor(n: number, classes: number, seed: number): Int32Array {
  return Int32Array.from(values(n, seed), (v) => Math.floor(((v + 1) / 2) * classes) % classes);
}

/** GPU train-mode loss and gradients of the mean cross-entropy (running statistics untouched). */
export async function gpuGrads(
  gpu: Gpu,
  model: ClassifierModel,
  xData: Float32Array,
  shape: number[],
  labels: Int32Array,
  dropoutSeed?: number,
) {
  const x = gpu.tensor(xData, shape);
  const lab = uploadLabels(gpu, labels, model.desc.numClasses);
  const { logits, saved } = await model.forward(x, {
    mode: 'train',
    updateRunningStats: false,
    dropoutSeed,
  });
  const ce = softmaxCrossEntropy(gpu, logits, lab);
  if (!saved || !ce.dlogits) throw new Error('no saved activations');
  const grads = model.backward(saved, ce.dlogits);
  expect(saved.consumed).toBe(true);
  const loss = (await gpu.readF32(ce.loss))[0];
  const out = new Map<string, Float32Array>();
  for (const [k, g] of grads) {
    out.set(k, await gpu.readF32(g));
    g.dispose();
  }
  for (const t of [x, lab, logits, ce.loss, ce.perSample, ce.dlogits] as Tensor[]) t.dispose();
  return { loss, grads: out, keys: [...grads.keys()] };
}

/**
 * For each key, entries `pick(length)` of the GPU gradient against central differences of `loss` (f64,
 * step 1e-5): within 0.2% of the largest sampled |grad| of the tensor plus `abs`.
 */
export function expectGradsMatch(
  grads: Map<string, Float32Array>,
  keys: readonly string[],
  p64: Params64,
  loss: (p: Params64) => number,
  pick: (length: number) => number[],
  abs: number | ((key: string) => number) = 1e-6,
): void {
  for (const key of keys) {
    const g = grads.get(key) as Float32Array;
    expect(g.length, key).toBe(p64[key].length);
    const idx = pick(g.length);
    const original = p64[key];
    const want = idx.map(
      (i) =>
        numericGrad(
          [original[i]],
          (v) => {
            const q = { ...p64, [key]: Float64Array.from(original) };
            q[key][i] = v[0];
            return loss(q);
          },
          1e-5,
        )[0],
    );
    const got = idx.map((i) => g[i]);
    const worst = worstVsMax(got, want, 2e-3, typeof abs === 'number' ? abs : abs(key));
    expect(worst, `${key}: got ${got.join(', ')}, want ${want.join(', ')}`).toBeLessThanOrEqual(1);
  }
}

/** Index of the first element whose bits differ, -1 when none (toEqual on millions of floats is slow). */
export function firstBitDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** First, middle and last entries. */
export const ends = (n: number) => [...new Set([0, Math.floor(n / 2), n - 1])];

/** What an f64 reference forward gives: logits and each unit's representation, in unit order. */
export interface ReferenceForward {
  logits: ArrayLike<number>;
  units: { unit: number; shape: readonly number[]; data: ArrayLike<number> }[];
}

/**
 * Eval forward of `model` (BN folded or not) on a seeded batch of `n` against `reference`, with and without
 * capture: logits and exactly the description's units, in order, with their shapes and values, errors
 * relative to the largest |value| within `rel`. The model frees every representation it hands out.
 */
export async function expectEvalMatches(
  gpu: Gpu,
  model: ClassifierModel,
  n: number,
  folded: boolean,
  reference: (x: Float32Array, n: number) => ReferenceForward,
  rel: number,
): Promise<void> {
  const desc = model.desc;
  if (folded) await model.freezeForEval();
  expect(model.frozen).toBe(folded);
  const xData = values(n * desc.input.reduce((a, d) => a * d, 1), 11);
  const x = gpu.tensor(xData, [n, ...desc.input]);
  const ref = reference(xData, n);
  for (const withCapture of [true, false]) {
    const captured: { unit: number; shape: number[]; data: Float32Array }[] = [];
    const held: Tensor[] = [];
    const { logits, saved } = await model.forward(x, {
      mode: 'eval',
      capture: withCapture
        ? async (unit, t) => {
            held.push(t);
            captured.push({ unit, shape: [...t.shape], data: await gpu.readF32(t) });
          }
        : undefined,
    });
    expect(saved).toBeUndefined();
    expect(logits.shape).toEqual([n, desc.numClasses]);
    expect(worstVsMax(await gpu.readF32(logits), ref.logits, rel)).toBeLessThanOrEqual(1);
    logits.dispose();
    if (!withCapture) continue;
    // Unit indices and shapes as the independent reference has them (not the description under test).
    expect(captured.map((u) => u.unit)).toEqual(ref.units.map((u) => u.unit));
    expect(captured.map((u) => u.shape)).toEqual(ref.units.map((u) => [...u.shape]));
    captured.forEach((u, i) => {
      expect(worstVsMax(u.data, ref.units[i].data, rel), `unit ${u.unit}`).toBeLessThanOrEqual(1);
    });
    expect(held.every((t) => t.isDisposed)).toBe(true);
  }
  expect(x.isDisposed).toBe(false);
  model.unfreeze();
  x.dispose();
}
