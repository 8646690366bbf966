// createClassifier picks the model class by architecture, refuses the others by name, and its models run
// behind the one ClassifierModel surface.

import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import type { ModelDescription } from '../../src/arch/types.js';
import { createClassifier } from '../../src/nn/model.js';
import { ParamStore } from '../../src/nn/params.js';
import { CifarResnet } from '../../src/nn/resnet.js';
import { Vgg } from '../../src/nn/vgg.js';
import { config } from '../arch/helpers.js';
import { useGpu } from '../helpers/gpu.js';
import { worstVsMax } from '../helpers/grad-check.js';
import { values } from '../helpers/reference.js';
import { gpuGrads, labelsFor } from './classifier-helpers.js';
import { randomParams } from './resnet-reference.js';

const getGpu = useGpu();

const descs: [string, ModelDescription, typeof CifarResnet | typeof Vgg][] = [
  [
    'cifar-resnet',
    describeModel(
      config({ architecture: 'cifar-resnet', depth: 20, shortcut: 'A', blocks: [1, 1, 1] }, [1, 8, 8]),
    ),
    CifarResnet,
  ],
  [
    'resnet',
    describeModel(config({ architecture: 'resnet', depth: 18, blocks: [0, 1, 1, 1] }, [1, 16, 16])),
    CifarResnet,
  ],
  [
    'vgg',
    describeModel(
      config(
        { architecture: 'vgg', depth: 11, layers: [4, 'M', 4, 'M', 4, 'M', 4, 'M', 4, 'M'] },
        [1, 32, 32],
      ),
    ),
    Vgg,
  ],
];

describe('createClassifier', () => {
  for (const [arch, desc, cls] of descs) {
    it(`runs ${arch} with ${cls.name}: eval logits, train gradients for every trainable key, freeze/unfreeze`, async () => {
      const gpu = await getGpu();
      const params = ParamStore.fromArrays(gpu, desc, randomParams(desc, 1));
      const model = createClassifier(gpu, desc, params);
      expect(model).toBeInstanceOf(cls);
      expect(model.desc).toBe(desc);
      expect(model.params).toBe(params);
      const n = 2;
      const shape = [n, ...desc.input];
      const xData = values(
        shape.reduce((a, d) => a * d, 1),
        2,
      );
      const x = gpu.tensor(xData, shape);
      const plain = await model.forward(x, { mode: 'eval' });
      const a = await gpu.readF32(plain.logits);
      expect(plain.saved).toBeUndefined();
      await model.freezeForEval();
      expect(model.frozen).toBe(true);
      const folded = await model.forward(x, { mode: 'eval' });
      const b = await gpu.readF32(folded.logits);
      // Folding changes f32 rounding only.
      expect(worstVsMax(b, a, 1e-4)).toBeLessThanOrEqual(1);
      model.unfreeze();
      expect(model.frozen).toBe(false);
      const { keys } = await gpuGrads(gpu, model, xData, shape, labelsFor(n, 10, 3));
      expect(keys).toEqual(params.trainableKeys());
      for (const t of [x, plain.logits, folded.logits]) t.dispose();
      params.dispose();
    });
  }

  it('refuses an architecture without a classifier, naming it and the supported ones', async () => {
    const gpu = await getGpu();
    const desc = { ...descs[0][1], architecture: 'llama', name: 'Tiny-LM' } as unknown as ModelDescription;
    expect(() => createClassifier(gpu, desc, {} as ParamStore)).toThrow(
      /Tiny-LM: no classifier for architecture 'llama' \(supported: cifar-resnet, resnet, vgg\)/,
    );
  });

  it('a Vgg refuses the activations of another model', async () => {
    const gpu = await getGpu();
    const [, desc] = descs[2];
    const params = ParamStore.fromArrays(gpu, desc, randomParams(desc, 1));
    const model = createClassifier(gpu, desc, params);
    const fake = { kind: 'resnet-activations', consumed: false, dispose() {} };
    const d = gpu.zeros([1, 10]);
    expect(() => model.backward(fake, d)).toThrow(/backward needs the activations of a Vgg forward pass/);
    d.dispose();
    params.dispose();
  });
});
