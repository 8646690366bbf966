// The nn/ ResNet running torchvision descriptions (7x7/2 stem + BN + ReLU + 3x3/2 max pool, BasicBlocks and
// Bottlenecks with projection shortcuts) against the float64 CPU reference: eval forward and captured unit
// representations (the stem's is its raw conv output, before the pool), train-mode gradients by central
// differences, determinism and running statistics.

import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import type { ModelDescription } from '../../src/arch/types.js';
import type { Gpu } from '../../src/gpu/device.js';
import { ParamStore } from '../../src/nn/params.js';
import { CifarResnet } from '../../src/nn/resnet.js';
import { config } from '../arch/helpers.js';
import { useGpu } from '../helpers/gpu.js';
import { worstVsMax } from '../helpers/grad-check.js';
import { values } from '../helpers/reference.js';
import {
  expectEvalMatches,
  expectGradsMatch,
  firstBitDifference,
  gpuGrads,
  labelsFor,
} from './classifier-helpers.js';
import { randomParams, resnetLossRef, resnetRef, to64 } from './resnet-reference.js';

const getGpu = useGpu();

function resnet(depth: 18 | 50, input: [number, number, number], blocks?: number[]): ModelDescription {
  return describeModel(config({ architecture: 'resnet', depth, ...(blocks ? { blocks } : {}) }, input));
}

function build(gpu: Gpu, desc: ModelDescription, seed: number) {
  const arrays = randomParams(desc, seed);
  const params = ParamStore.fromArrays(gpu, desc, arrays);
  return { arrays, params, model: new CifarResnet(gpu, desc, params) };
}

// f32 GPU vs f64 CPU, up to ~50 conv + BN layers deep: relative to the largest |value|.
const FORWARD_REL = 5e-4;

/** Eval forward of a seeded model, folded or not, against the f64 reference. */
async function checkEval(gpu: Gpu, desc: ModelDescription, n: number, folded: boolean) {
  const { arrays, params, model } = build(gpu, desc, 3);
  await expectEvalMatches(
    gpu,
    model,
    n,
    folded,
    (x, m) => resnetRef(desc, to64(arrays), x, m, false),
    FORWARD_REL,
  );
  params.dispose();
}

describe('torchvision ResNet eval forward', () => {
  it('ResNet-18 on 3x32x32: the stem unit is the raw 7x7/2 conv output, the max pool follows', () => {
    const desc = resnet(18, [3, 32, 32]);
    expect(desc.units[0].output).toEqual([64, 16, 16]);
    expect(desc.units[1].input).toEqual([64, 8, 8]);
    if (desc.net.family !== 'resnet') throw new Error('not a resnet');
    expect(desc.net.stem.pool).toEqual({ op: 'maxpool2d', kernel: 3, stride: 2, padding: 1 });
  });

  for (const folded of [false, true]) {
    const how = folded ? 'BN folded (freezeForEval)' : 'conv + BN';
    it(`ResNet-18 (BasicBlocks) on 3x32x32, batch 2, matches the f64 reference, ${how}`, async () => {
      await checkEval(await getGpu(), resnet(18, [3, 32, 32]), 2, folded);
    });
  }

  it('ResNet-50 (Bottlenecks) on 3x32x32, batch 2, folded (conv + BN when capturing)', async () => {
    const desc = resnet(50, [3, 32, 32]);
    expect(desc.units[1].name).toBe('layer1.0');
    await checkEval(await getGpu(), desc, 2, true);
  });
});

describe('torchvision ResNet train forward + backward', () => {
  // 16x16 inputs leave layer3 and layer4 at 1x1: batch 4 gives their BNs 4 values per channel.
  const n = 4;
  const input: [number, number, number] = [3, 16, 16];
  const count = n * 3 * 16 * 16;

  it('ResNet-18 [1,1,1,1]: one entry of every gradient agrees with central differences', async () => {
    const gpu = await getGpu();
    const desc = resnet(18, input, [1, 1, 1, 1]);
    const { arrays, params, model } = build(gpu, desc, 5);
    const xData = values(count, 21);
    const labels = labelsFor(n, 10, 4);
    const { loss, grads, keys } = await gpuGrads(gpu, model, xData, [n, ...input], labels);
    expect(keys).toEqual(params.trainableKeys());
    const p64 = to64(arrays);
    const lossRef = (q: typeof p64) => resnetLossRef(desc, q, xData, labels, true);
    expect(Math.abs(loss - lossRef(p64))).toBeLessThan(1e-4);
    // Every tensor, one entry each (the middle one): stem conv and BN through the max pool, both blocks
    // kinds of BN, the projections and fc.
    expectGradsMatch(grads, keys, p64, lossRef, (len) => [Math.floor(len / 2)]);
    params.dispose();
  });

  it('ResNet-50 [1,1,1,1] (Bottlenecks): layer1.0 (with its projection) and fc against central differences', async () => {
    const gpu = await getGpu();
    const desc = resnet(50, input, [1, 1, 1, 1]);
    const { arrays, params, model } = build(gpu, desc, 6);
    const xData = values(count, 22);
    const labels = labelsFor(n, 10, 5);
    const { grads, keys } = await gpuGrads(gpu, model, xData, [n, ...input], labels);
    expect(keys).toEqual(params.trainableKeys());
    const p64 = to64(arrays);
    const lossRef = (q: typeof p64) => resnetLossRef(desc, q, xData, labels, true);
    // The stem's path is the ResNet-18 case's; the f64 reference costs ~0.4 s a pass here.
    const sampled = keys.filter((k) => k.startsWith('layer1.0.') || k.startsWith('fc.'));
    expect(sampled).toContain('layer1.0.downsample.0.weight');
    expect(sampled).toContain('layer1.0.conv3.weight');
    expectGradsMatch(grads, sampled, p64, lossRef, (len) => [len - 1]);
    params.dispose();
  });

  it('is deterministic: two backward passes give bit-identical gradients; train mode captures every unit', async () => {
    const gpu = await getGpu();
    const desc = resnet(18, input, [1, 1, 1, 1]);
    const { params, model } = build(gpu, desc, 6);
    const xData = values(count, 8);
    const labels = labelsFor(n, 10, 9);
    const a = await gpuGrads(gpu, model, xData, [n, ...input], labels);
    const b = await gpuGrads(gpu, model, xData, [n, ...input], labels);
    expect(b.keys).toEqual(a.keys);
    for (const k of a.keys) {
      expect(firstBitDifference(b.grads.get(k) as Float32Array, a.grads.get(k) as Float32Array), k).toBe(-1);
    }
    const x = gpu.tensor(xData, [n, ...input]);
    const seen: [number, number[]][] = [];
    const { logits, saved } = await model.forward(x, {
      mode: 'train',
      updateRunningStats: false,
      capture: (unit, t) => {
        seen.push([unit, [...t.shape]]);
      },
    });
    expect(seen).toEqual(desc.units.map((u) => [u.index, [n, ...u.output]]));
    saved?.dispose();
    expect(saved?.consumed).toBe(true);
    logits.dispose();
    x.dispose();
    params.dispose();
  });

  it('updateRunningStats: false leaves running stats bit-identical; true applies the momentum update', async () => {
    const gpu = await getGpu();
    const desc = resnet(18, input, [1, 1, 1, 1]);
    const { arrays, params, model } = build(gpu, desc, 7);
    const xData = values(count, 31);
    const x = gpu.tensor(xData, [n, ...input]);
    const before = await params.toArrays(params.bufferKeys());
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
    // Stem, 4 blocks x 2 BNs, 3 projections.
    expect(ref.batchStats.size).toBe(1 + 8 + 3);
    if (desc.net.family !== 'resnet') throw new Error('not a resnet');
    const net = desc.net;
    const plane = (bn: string) => {
      if (bn === net.stem.bn.name) return desc.units[0].output[1] * desc.units[0].output[2];
      const block = net.stages.flat().find((b) => bn.startsWith(`${b.name}.`));
      if (!block) throw new Error(`no BN ${bn}`);
      return block.output[1] * block.output[2];
    };
    for (const [bn, s] of ref.batchStats) {
      const m = 0.1;
      const c = n * plane(bn);
      const wantMean = before[`${bn}.running_mean`].map((v, i) => (1 - m) * v + m * s.mean[i]);
      const wantVar = before[`${bn}.running_var`].map(
        (v, i) => (1 - m) * v + m * s.variance[i] * (c / (c - 1)),
      );
      expect(worstVsMax(updated[`${bn}.running_mean`], wantMean, 1e-4, 1e-6), bn).toBeLessThanOrEqual(1);
      expect(worstVsMax(updated[`${bn}.running_var`], wantVar, 1e-4, 1e-6), bn).toBeLessThanOrEqual(1);
    }
    x.dispose();
    params.dispose();
  });
});
