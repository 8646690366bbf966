// The nn/ CIFAR VGG-BN against a float64 CPU reference: eval forward and captured unit representations
// (folded and not, every classifier variant), train-mode gradients with dropout by central differences,
// determinism, running statistics, and a pruned VGG.

import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { pruneModel } from '../../src/arch/prune.js';
import type { ModelDescription, VggClassifier } from '../../src/arch/types.js';
import type { Gpu } from '../../src/gpu/device.js';
import { ParamStore } from '../../src/nn/params.js';
import { Vgg } from '../../src/nn/vgg.js';
import { config } from '../arch/helpers.js';
import { useGpu } from '../helpers/gpu.js';
import { worstVsMax } from '../helpers/grad-check.js';
import { values } from '../helpers/reference.js';
import {
  ends,
  expectEvalMatches,
  expectGradsMatch,
  firstBitDifference,
  gpuGrads,
  labelsFor,
} from './classifier-helpers.js';
import { randomParams, to64 } from './resnet-reference.js';
import { vggLossRef, vggRef } from './vgg-reference.js';

const getGpu = useGpu();

/** VGG-11's layout (8 convs, 5 pools) at narrow widths, so that the f64 reference is quick. */
const NARROW_11 = [4, 'M', 6, 'M', 8, 8, 'M', 8, 6, 'M', 8, 8, 'M'];

function vgg(
  classifier: VggClassifier,
  input: [number, number, number] = [2, 32, 32],
  layers: (number | string)[] | 'full' = NARROW_11,
  depth = 11,
): ModelDescription {
  return describeModel(
    config({ architecture: 'vgg', depth, ...(layers === 'full' ? {} : { layers }) }, input),
    {
      vggClassifier: classifier,
    },
  );
}

function build(gpu: Gpu, desc: ModelDescription, seed: number) {
  const arrays = randomParams(desc, seed);
  const params = ParamStore.fromArrays(gpu, desc, arrays);
  return { arrays, params, model: new Vgg(gpu, desc, params) };
}

// f32 GPU vs f64 CPU, up to 8 conv + BN layers and 3 linear layers deep: relative to the largest |value|.
const FORWARD_REL = 2e-4;

/** Eval forward of a seeded model, folded or not, against the f64 reference. */
async function checkEval(gpu: Gpu, desc: ModelDescription, n: number, folded: boolean) {
  const { arrays, params, model } = build(gpu, desc, 3);
  await expectEvalMatches(
    gpu,
    model,
    n,
    folded,
    (x, m) => vggRef(desc, to64(arrays), x, m, false),
    FORWARD_REL,
  );
  params.dispose();
}

describe('Vgg eval forward', () => {
  // 64x64 leaves a 2x2 map: the classifier reads C·H·W = 32 features in NCHW order.
  const cases: [VggClassifier, [number, number, number]][] = [
    ['linear', [2, 32, 32]],
    ['bare-linear', [1, 64, 64]],
    ['dropout-mlp', [2, 32, 32]],
  ];
  for (const [classifier, input] of cases) {
    for (const folded of [false, true]) {
      const how = folded ? 'BN folded (freezeForEval)' : 'conv + BN';
      it(`matches the f64 reference (logits, every unit's conv output), ${how}: narrow VGG-11, ${classifier}, ${input.join('x')}`, async () => {
        await checkEval(await getGpu(), vgg(classifier, input), 3, folded);
      });
    }
  }

  it('a full VGG-11-BN on 3x32x32, batch 2 (folded: fused convs, and conv + BN when capturing)', async () => {
    const gpu = await getGpu();
    const desc = vgg('linear', [3, 32, 32], 'full');
    expect(desc.name).toBe('VGG-11-BN');
    await checkEval(gpu, desc, 2, true);
  });

  it('a pruned VGG runs: removed convs are dropped, a successor of another width is a fresh conv', async () => {
    const gpu = await getGpu();
    const full = vgg('dropout-mlp');
    // Unit 1 (6 wide, after 4) goes: unit 2 (features.5 after renumbering) now takes 4 channels; unit 7
    // (8 -> 8) goes without changing a width.
    const pruned = pruneModel(full, [1, 7]);
    expect(pruned.reinit.map((r) => r.name)).toEqual(['features.5']);
    const desc = pruned.description;
    expect(desc.units).toHaveLength(6);
    await checkEval(gpu, desc, 2, false);
    await checkEval(gpu, desc, 2, true);
    const { arrays, params, model } = build(gpu, desc, 4);
    const xData = values(2 * 2 * 32 * 32, 6);
    const labels = labelsFor(2, 10, 1);
    const { loss, keys } = await gpuGrads(gpu, model, xData, [2, 2, 32, 32], labels, 5);
    expect(keys).toEqual(params.trainableKeys());
    expect(Math.abs(loss - vggLossRef(desc, to64(arrays), xData, labels, true, 5))).toBeLessThan(1e-4);
    params.dispose();
  });

  it('rejects an input of the wrong shape and a bad dropout seed, naming them', async () => {
    const gpu = await getGpu();
    const { params, model } = build(gpu, vgg('linear'), 1);
    const x = gpu.zeros([2, 2, 32, 31]);
    await expect(model.forward(x, { mode: 'eval' })).rejects.toThrow(/input must be \[N >= 1, 2, 32, 32\]/);
    const empty = gpu.zeros([0, 2, 32, 32]);
    await expect(model.forward(empty, { mode: 'eval' })).rejects.toThrow(/got \[0, 2, 32, 32\]/);
    empty.dispose();
    const y = gpu.zeros([2, 2, 32, 32]);
    await expect(model.forward(y, { mode: 'train', dropoutSeed: -1 })).rejects.toThrow(/dropoutSeed/);
    x.dispose();
    y.dispose();
    params.dispose();
  });
});

describe('Vgg train forward + backward', () => {
  it('gradients of every kind (conv, BN, linear through dropout and ReLU) agree with central differences', async () => {
    const gpu = await getGpu();
    // 64x64: a 2x2 map is flattened into the classifier.
    const desc = vgg('dropout-mlp', [2, 64, 64]);
    const { arrays, params, model } = build(gpu, desc, 5);
    const n = 2;
    const shape = [n, 2, 64, 64];
    const xData = values(n * 2 * 64 * 64, 21);
    const labels = labelsFor(n, 10, 4);
    const seed = 7;
    const { loss, grads, keys } = await gpuGrads(gpu, model, xData, shape, labels, seed);
    expect(keys).toEqual(
      desc.params.filter((p) => p.kind === 'weight' || p.kind === 'bias').map((p) => p.key),
    );
    const p64 = to64(arrays);
    expect(Math.abs(loss - vggLossRef(desc, p64, xData, labels, true, seed))).toBeLessThan(1e-4);
    // Dropout is on: another seed gives another loss.
    expect(Math.abs(loss - vggLossRef(desc, p64, xData, labels, true, seed + 1))).toBeGreaterThan(1e-3);
    // A conv bias before a train-mode BN has gradient exactly 0 (the BN subtracts the batch mean): what the
    // GPU returns is f32 cancellation in a sum over N·H·W (up to 8192) terms, measured up to 4.4e-6.
    const convBiases = new Set(desc.units.map((u) => `${u.name}.bias`));
    const abs = (key: string) => (convBiases.has(key) ? 2e-5 : 1e-6);
    expectGradsMatch(grads, keys, p64, (q) => vggLossRef(desc, q, xData, labels, true, seed), ends, abs);
    params.dispose();
  });

  it('is deterministic: two backward passes give bit-identical gradients; train mode captures every unit', async () => {
    const gpu = await getGpu();
    const desc = vgg('dropout-mlp');
    const { params, model } = build(gpu, desc, 6);
    const xData = values(4 * 2 * 32 * 32, 8);
    const labels = labelsFor(4, 10, 9);
    const a = await gpuGrads(gpu, model, xData, [4, 2, 32, 32], labels, 3);
    const b = await gpuGrads(gpu, model, xData, [4, 2, 32, 32], labels, 3);
    expect(b.keys).toEqual(a.keys);
    for (const k of a.keys) {
      expect(firstBitDifference(b.grads.get(k) as Float32Array, a.grads.get(k) as Float32Array), k).toBe(-1);
    }
    const x = gpu.tensor(xData, [4, 2, 32, 32]);
    const seen: [number, number[]][] = [];
    const { logits, saved } = await model.forward(x, {
      mode: 'train',
      updateRunningStats: false,
      capture: (unit, t) => {
        seen.push([unit, [...t.shape]]);
      },
    });
    expect(seen).toEqual(desc.units.map((u) => [u.index, [4, ...u.output]]));
    saved?.dispose();
    expect(saved?.consumed).toBe(true);
    logits.dispose();
    x.dispose();
    params.dispose();
  });

  it('updateRunningStats: false leaves running stats bit-identical; true applies the momentum update', async () => {
    const gpu = await getGpu();
    const desc = vgg('linear');
    const { arrays, params, model } = build(gpu, desc, 7);
    const n = 4;
    const xData = values(n * 2 * 32 * 32, 31);
    const x = gpu.tensor(xData, [n, 2, 32, 32]);
    const before = await params.toArrays(params.bufferKeys());
    expect(Object.keys(before).length).toBe(2 * 8);
    const off = await model.forward(x, { mode: 'train', updateRunningStats: false });
    off.saved?.dispose();
    off.logits.dispose();
    const after = await params.toArrays(params.bufferKeys());
    for (const k of Object.keys(before)) expect(after[k], k).toEqual(before[k]);

    const on = await model.forward(x, { mode: 'train' });
    on.saved?.dispose();
    on.logits.dispose();
    const updated = await params.toArrays(params.bufferKeys());
    const ref = vggRef(desc, to64(arrays), xData, n, true);
    expect(ref.batchStats.size).toBe(8);
    if (desc.net.family !== 'vgg') throw new Error('not a VGG');
    for (const f of desc.net.features) {
      if (f.kind !== 'conv') continue;
      const s = ref.batchStats.get(f.bn.name) as { mean: Float64Array; variance: Float64Array };
      const count = n * f.output[1] * f.output[2];
      const m = f.bn.momentum;
      const bn = f.bn.name;
      const wantMean = before[`${bn}.running_mean`].map((v, c) => (1 - m) * v + m * s.mean[c]);
      const wantVar = before[`${bn}.running_var`].map(
        (v, c) => (1 - m) * v + m * s.variance[c] * (count / (count - 1)),
      );
      expect(worstVsMax(updated[`${bn}.running_mean`], wantMean, 1e-4, 1e-6), bn).toBeLessThanOrEqual(1);
      expect(worstVsMax(updated[`${bn}.running_var`], wantVar, 1e-4, 1e-6), bn).toBeLessThanOrEqual(1);
    }
    x.dispose();
    params.dispose();
  });

  it('a folded snapshot is dropped by a train-mode pass and by ParamStore.write', async () => {
    const gpu = await getGpu();
    const desc = vgg('linear');
    const { arrays, params, model } = build(gpu, desc, 2);
    const xData = values(2 * 2 * 32 * 32, 5);
    const x = gpu.tensor(xData, [2, 2, 32, 32]);
    await model.freezeForEval();
    const t = await model.forward(x, { mode: 'train', updateRunningStats: false });
    t.saved?.dispose();
    t.logits.dispose();
    expect(model.frozen).toBe(false);
    await model.freezeForEval();
    const changed = arrays['features.1.bias'].map((v) => v + 0.5);
    params.write('features.1.bias', changed);
    expect(model.frozen).toBe(false);
    const { logits } = await model.forward(x, { mode: 'eval' });
    const ref = vggRef(desc, to64({ ...arrays, 'features.1.bias': changed }), xData, 2, false);
    expect(worstVsMax(await gpu.readF32(logits), ref.logits, FORWARD_REL)).toBeLessThanOrEqual(1);
    logits.dispose();
    x.dispose();
    params.dispose();
  });
});
