// The nn/ CIFAR ResNet against a float64 CPU reference: eval forward, captured unit representations,
// train-mode gradients by central differences, running statistics, SGD, and loading from safetensors.

import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { StateDictError } from '../../src/arch/errors.js';
import type { ModelDescription } from '../../src/arch/types.js';
import type { Gpu } from '../../src/gpu/device.js';
import type { Tensor } from '../../src/gpu/tensor.js';
import { ParamStore } from '../../src/nn/params.js';
import { CifarResnet } from '../../src/nn/resnet.js';
import { softmaxCrossEntropy, uploadLabels } from '../../src/ops/index.js';
import { Optimizer } from '../../src/train/optimizer.js';
import { config, openStore } from '../arch/helpers.js';
import { crossEntropyRef } from '../helpers/cnn-reference.js';
import { useGpu } from '../helpers/gpu.js';
import { worstVsMax } from '../helpers/grad-check.js';
import { values } from '../helpers/reference.js';
import { ends, expectEvalMatches, expectGradsMatch, gpuGrads, labelsFor } from './classifier-helpers.js';
import { randomParams, resnetLossRef, resnetRef, to64 } from './resnet-reference.js';

const getGpu = useGpu();

function describeNet(
  shortcut: 'A' | 'B',
  blocks: number[],
  input: [number, number, number],
  depth = 20,
): ModelDescription {
  return describeModel(config({ architecture: 'cifar-resnet', depth, shortcut, blocks }, input));
}

async function build(gpu: Gpu, desc: ModelDescription, seed: number) {
  const arrays = randomParams(desc, seed);
  const params = ParamStore.fromArrays(gpu, desc, arrays);
  return { arrays, params, model: new CifarResnet(gpu, desc, params) };
}

const CASES: {
  name: string;
  shortcut: 'A' | 'B';
  blocks: number[];
  input: [number, number, number];
  depth?: number;
}[] = [
  { name: 'shortcut A, blocks [2,1,1], 1x8x8', shortcut: 'A', blocks: [2, 1, 1], input: [1, 8, 8] },
  { name: 'shortcut B, blocks [1,1,1], 1x12x12', shortcut: 'B', blocks: [1, 1, 1], input: [1, 12, 12] },
  { name: 'shortcut A, pruned blocks [0,1,2], 2x9x9', shortcut: 'A', blocks: [0, 1, 2], input: [2, 9, 9] },
  {
    name: 'ResNet-56 pruned to blocks [9,5,7], shortcut B, 1x8x8',
    shortcut: 'B',
    blocks: [9, 5, 7],
    input: [1, 8, 8],
    depth: 56,
  },
];

// f32 GPU vs f64 CPU, a handful of conv + BN layers deep: errors relative to the largest |value|.
const FORWARD_REL = 2e-4;

describe('CifarResnet eval forward', () => {
  for (const c of CASES) {
    for (const folded of [false, true]) {
      const how = folded ? 'BN folded (freezeForEval)' : 'conv + BN';
      it(`matches the f64 reference (logits and every unit's representation), ${how}: ${c.name}`, async () => {
        const gpu = await getGpu();
        const desc = describeNet(c.shortcut, c.blocks, c.input, c.depth);
        const { arrays, params, model } = await build(gpu, desc, 3);
        const ref = (x: Float32Array, n: number) => resnetRef(desc, to64(arrays), x, n, false);
        await expectEvalMatches(gpu, model, 3, folded, ref, FORWARD_REL);
        params.dispose();
      });
    }
  }

  it('a folded snapshot is dropped by a train-mode pass and by ParamStore.write', async () => {
    const gpu = await getGpu();
    const desc = describeNet('A', [1, 1, 1], [1, 8, 8]);
    const { arrays, params, model } = await build(gpu, desc, 2);
    const x = gpu.tensor(values(2 * 64, 5), [2, 1, 8, 8]);
    await model.freezeForEval();
    const t = await model.forward(x, { mode: 'train', updateRunningStats: false });
    t.saved?.dispose();
    t.logits.dispose();
    expect(model.frozen).toBe(false);
    await model.freezeForEval();
    const changed = arrays['layer1.0.bn2.bias'].map((v) => v + 0.5);
    params.write('layer1.0.bn2.bias', changed);
    expect(model.frozen).toBe(false);
    const { logits } = await model.forward(x, { mode: 'eval' });
    const ref = resnetRef(
      desc,
      to64({ ...arrays, 'layer1.0.bn2.bias': changed }),
      values(2 * 64, 5),
      2,
      false,
    );
    expect(worstVsMax(await gpu.readF32(logits), ref.logits, FORWARD_REL)).toBeLessThanOrEqual(1);
    logits.dispose();
    x.dispose();
    params.dispose();
  });

  it('rejects an input of the wrong shape, naming the expected one', async () => {
    const gpu = await getGpu();
    const desc = describeNet('A', [1, 1, 1], [1, 8, 8]);
    const { params, model } = await build(gpu, desc, 1);
    const x = gpu.zeros([2, 1, 8, 9]);
    await expect(model.forward(x, { mode: 'eval' })).rejects.toThrow(/input must be \[N, 1, 8, 8\]/);
    x.dispose();
    params.dispose();
  });
});

/** GPU train-mode loss and gradients of the mean cross-entropy. */
describe('CifarResnet train forward + backward', () => {
  for (const shortcut of ['A', 'B'] as const) {
    it(`gradients of every kind agree with central differences of the f64 reference (shortcut ${shortcut})`, async () => {
      const gpu = await getGpu();
      const desc = describeNet(shortcut, [1, 1, 1], [1, 8, 8]);
      const { arrays, params, model } = await build(gpu, desc, 5);
      const n = 4;
      const shape = [n, 1, 8, 8];
      const xData = values(n * 64, 21);
      const labels = labelsFor(n, 10, 4);
      const { loss, grads, keys } = await gpuGrads(gpu, model, xData, shape, labels);
      expect(keys).toEqual(
        desc.params.filter((p) => p.kind === 'weight' || p.kind === 'bias').map((p) => p.key),
      );
      const p64 = to64(arrays);
      expect(Math.abs(loss - resnetLossRef(desc, p64, xData, labels, true))).toBeLessThan(1e-4);
      // First, middle and last element of every weight and bias (conv, BN gamma/beta, shortcut, linear).
      expectGradsMatch(grads, keys, p64, (q) => resnetLossRef(desc, q, xData, labels, true), ends);
      params.dispose();
    }, 60_000);
  }

  it('is deterministic: two backward passes give bit-identical gradients', async () => {
    const gpu = await getGpu();
    const desc = describeNet('A', [2, 1, 1], [1, 8, 8]);
    const { params, model } = await build(gpu, desc, 6);
    const xData = values(4 * 64, 8);
    const labels = labelsFor(4, 10, 9);
    const a = await gpuGrads(gpu, model, xData, [4, 1, 8, 8], labels);
    const b = await gpuGrads(gpu, model, xData, [4, 1, 8, 8], labels);
    for (const k of a.keys) expect(b.grads.get(k)).toEqual(a.grads.get(k));
    // Train mode captures the same units, in order, with their shapes.
    const x = gpu.tensor(xData, [4, 1, 8, 8]);
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
    logits.dispose();
    x.dispose();
    params.dispose();
  });

  it('updateRunningStats: false leaves running stats bit-identical; true applies the momentum update', async () => {
    const gpu = await getGpu();
    const desc = describeNet('B', [1, 1, 1], [1, 8, 8]);
    const { arrays, params, model } = await build(gpu, desc, 7);
    const n = 4;
    const xData = values(n * 64, 31);
    const x = gpu.tensor(xData, [n, 1, 8, 8]);
    const before = await params.toArrays(params.bufferKeys());
    expect(Object.keys(before).length).toBe(2 * 9);
    const off = await model.forward(x, { mode: 'train', updateRunningStats: false });
    off.saved?.dispose();
    off.logits.dispose();
    const after = await params.toArrays(params.bufferKeys());
    for (const k of Object.keys(before)) expect(after[k], k).toEqual(before[k]);

    const on = await model.forward(x, { mode: 'train' });
    on.saved?.dispose();
    on.logits.dispose();
    const updated = await params.toArrays(params.bufferKeys());
    const ref = resnetRef(desc, to64(arrays), xData, n, true);
    for (const [bn, s] of ref.batchStats) {
      const spec = desc.params.find((p) => p.key === `${bn}.running_mean`);
      expect(spec).toBeDefined();
      const m = 0.1;
      const count = xCount(desc, bn, n);
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

  it('a few SGD steps on a fixed tiny batch lower the loss', async () => {
    const gpu = await getGpu();
    const desc = describeNet('A', [1, 1, 1], [1, 8, 8]);
    const { params, model } = await build(gpu, desc, 9);
    const n = 8;
    const x = gpu.tensor(values(n * 64, 41), [n, 1, 8, 8]);
    const lab = uploadLabels(gpu, labelsFor(n, 10, 12), 10);
    const opt = new Optimizer(gpu, { kind: 'sgd', momentum: 0.9, weightDecay: 0 });
    const keys = params.trainableKeys();
    const losses: number[] = [];
    for (let step = 0; step < 8; step++) {
      await gpu.scope(async () => {
        const { logits, saved } = await model.forward(x, { mode: 'train' });
        const ce = softmaxCrossEntropy(gpu, logits, lab);
        if (!saved || !ce.dlogits) throw new Error('no saved activations');
        const grads = model.backward(saved, ce.dlogits);
        opt.step(
          keys.map((k) => params.get(k)),
          keys.map((k) => grads.get(k) as Tensor),
          0.05,
        );
        losses.push((await gpu.readF32(ce.loss))[0]);
      });
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]).toBeLessThan(0.5 * losses[0]);
    opt.dispose();
    x.dispose();
    lab.dispose();
    params.dispose();
  });
});

/** Values per channel a BN saw: n x its input plane. */
function xCount(desc: ModelDescription, bn: string, n: number): number {
  if (desc.net.family !== 'resnet') throw new Error('not a resnet');
  const net = desc.net;
  if (bn === net.stem.bn.name) return n * desc.units[0].output[1] * desc.units[0].output[2];
  for (const b of net.stages.flat()) {
    if (bn.startsWith(`${b.name}.`)) return n * b.output[1] * b.output[2];
  }
  throw new Error(`no BN ${bn}`);
}

describe('ParamStore loading', () => {
  const desc = () => describeNet('B', [1, 1, 1], [1, 8, 8]);
  const tensors = (d: ModelDescription) => {
    const arrays = randomParams(d, 2);
    return {
      arrays,
      file: Object.fromEntries(
        d.params.map((p) => [p.key, { dtype: 'F32' as const, shape: p.shape, data: arrays[p.key] }]),
      ),
    };
  };

  it('loads every tensor from an in-memory safetensors file, and the model runs from it', async () => {
    const gpu = await getGpu();
    const d = desc();
    const { arrays, file } = tensors(d);
    const params = await ParamStore.load(gpu, d, await openStore(file));
    const back = await params.toArrays();
    for (const p of d.params) expect(back[p.key], p.key).toEqual(arrays[p.key]);
    expect(params.bufferKeys()).toEqual(
      d.params.filter((p) => p.kind.startsWith('running')).map((p) => p.key),
    );
    const model = new CifarResnet(gpu, d, params);
    const xData = values(2 * 64, 3);
    const x = gpu.tensor(xData, [2, 1, 8, 8]);
    const { logits } = await model.forward(x, { mode: 'eval' });
    const ref = resnetRef(d, to64(arrays), xData, 2, false);
    expect(worstVsMax(await gpu.readF32(logits), ref.logits, FORWARD_REL)).toBeLessThanOrEqual(1);
    expect(crossEntropyRef(ref.logits, [1, 2], 10, 0).loss).toBeGreaterThan(0);
    logits.dispose();
    x.dispose();
    params.dispose();
  });

  it('a missing key is a StateDictError naming the key and its shape', async () => {
    const gpu = await getGpu();
    const d = desc();
    const { file } = tensors(d);
    delete (file as Record<string, unknown>)['layer2.0.shortcut.1.running_var'];
    const err = await ParamStore.load(gpu, d, await openStore(file)).catch((e) => e);
    expect(err).toBeInstanceOf(StateDictError);
    expect(String(err.message)).toMatch(/layer2\.0\.shortcut\.1\.running_var/);
    expect(String(err.message)).toMatch(/missing \(expected shape \[32\]\)/);
  });

  it('a mis-shaped key is a StateDictError naming the key and both shapes', async () => {
    const gpu = await getGpu();
    const d = desc();
    const { file } = tensors(d);
    file['layer1.0.conv2.weight'] = {
      dtype: 'F32',
      shape: [16, 16, 1, 9],
      data: new Float32Array(16 * 16 * 9),
    };
    const err = await ParamStore.load(gpu, d, await openStore(file)).catch((e) => e);
    expect(err).toBeInstanceOf(StateDictError);
    expect(String(err.message)).toMatch(/layer1\.0\.conv2\.weight/);
    expect(String(err.message)).toMatch(/\[16, 16, 1, 9\] in the file, expected \[16, 16, 3, 3\]/);
  });
});
