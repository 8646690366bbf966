import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { ArchError } from '../../src/arch/errors.js';
import { type PrunedModel, pruneModel } from '../../src/arch/prune.js';
import { checkStateDict } from '../../src/arch/state-dict.js';
import type { ModelDescription } from '../../src/arch/types.js';
import { validateModelConfig } from '../../src/io/config.js';
import type { TensorToWrite } from '../../src/io/safetensors-write.js';
import { config, openStore, stateDict } from './helpers.js';

const resnet56 = () =>
  describeModel(config({ architecture: 'cifar-resnet', depth: 56, shortcut: 'A' }, [1, 28, 28]));
const vgg = (depth: number, layers?: (number | 'M')[]) =>
  describeModel(config({ architecture: 'vgg', depth, ...(layers ? { layers } : {}) }, [3, 32, 32]));

/** The pruned config survives a trip through config.json and describes the same model. */
function expectRoundTrip(p: PrunedModel): void {
  expect(p.config).not.toHaveProperty('kind');
  const reread = validateModelConfig(JSON.parse(JSON.stringify(p.config)), 'pruned/config.json');
  const vggClassifier = p.description.net.family === 'vgg' ? p.description.net.classifierKind : undefined;
  expect(describeModel(reread, { vggClassifier })).toEqual(p.description);
}

/** The old checkpoint renamed by keyMap, plus fresh tensors for re-initialised units. */
function carryOver(old: ModelDescription, p: PrunedModel): Record<string, TensorToWrite> {
  const from = stateDict(old);
  const out: Record<string, TensorToWrite> = {};
  for (const [k, t] of Object.entries(from)) {
    const to = p.keyMap.get(k);
    if (to !== undefined) out[to] = t;
  }
  const fresh = stateDict(p.description);
  for (const r of p.reinit) for (const q of r.params) out[q.key] = fresh[q.key];
  return out;
}

describe('pruneModel: residual networks', () => {
  it('renumbers each stage: layer1.0 and layer1.1 removed make layer1.3 the new layer1.1', () => {
    const d = resnet56();
    const p = pruneModel(d, [2, 1, 12]);
    expect(p.removed).toEqual([1, 2, 12]);
    expect(p.config).toMatchObject({ architecture: 'cifar-resnet', depth: 56, blocks: [7, 8, 9] });
    expect(p.kept).toHaveLength(25);
    expect(p.kept.slice(0, 3)).toEqual([0, 3, 4]);
    expect(p.keyMap.get('layer1.2.conv1.weight')).toBe('layer1.0.conv1.weight');
    expect(p.keyMap.get('layer1.3.bn2.running_var')).toBe('layer1.1.bn2.running_var');
    expect(p.keyMap.get('layer1.3.bn1.num_batches_tracked')).toBe('layer1.1.bn1.num_batches_tracked');
    expect(p.keyMap.get('layer2.1.conv1.weight')).toBe('layer2.1.conv1.weight');
    expect(p.keyMap.get('layer2.3.conv2.weight')).toBe('layer2.2.conv2.weight');
    expect(p.keyMap.get('layer3.8.conv2.weight')).toBe('layer3.8.conv2.weight');
    expect(p.keyMap.get('conv1.weight')).toBe('conv1.weight');
    expect(p.keyMap.get('linear.bias')).toBe('linear.bias');
    expect(p.keyMap.has('layer1.0.conv1.weight')).toBe(false);
    expect(p.keyMap.has('layer2.2.conv1.weight')).toBe(false);
    expect(p.reinit).toEqual([]);
    // Every tensor of the pruned model comes from exactly one old tensor.
    expect([...p.keyMap.values()].sort()).toEqual(
      [...p.description.params.map((q) => q.key), ...p.description.ignoredKeys].sort(),
    );
    expect(p.description.units.filter((u) => u.protected).map((u) => u.name)).toEqual([
      'conv1',
      'layer2.0',
      'layer3.0',
    ]);
    expectRoundTrip(p);
  });

  it('produces a checkpoint that checks against the pruned description', async () => {
    const d = resnet56();
    const p = pruneModel(d, [1, 2, 3, 4, 5, 6, 7, 8, 9, 20, 27]);
    expect(p.config).toMatchObject({ blocks: [0, 9, 7] });
    expect(p.description.units[1].name).toBe('layer2.0');
    await checkStateDict(p.description, await openStore(carryOver(d, p)));
    expectRoundTrip(p);
  });

  it('prunes an already pruned model by its own unit indices', () => {
    const once = pruneModel(resnet56(), [5, 6, 7, 8, 9]).description;
    const twice = pruneModel(once, [1, 2]);
    expect(twice.config).toMatchObject({ blocks: [2, 9, 9] });
    expect(twice.keyMap.get('layer1.3.conv1.weight')).toBe('layer1.1.conv1.weight');
    expectRoundTrip(twice);
  });

  it('refuses protected and unknown units, naming them and saying why', () => {
    const d = resnet56();
    expect(() => pruneModel(d, [5, 10])).toThrow(ArchError);
    expect(() => pruneModel(d, [5, 10])).toThrow(
      'cannot remove protected unit of ResNet-56: unit 10 (layer2.0): ' +
        'the first block of stage 2 changes size 28x28→14x14 and width 16→32',
    );
    expect(() => pruneModel(d, [19, 0])).toThrow(
      /^cannot remove protected units of ResNet-56: unit 0 \(conv1\): the stem: .*; unit 19 \(layer3.0\): /,
    );
    expect(() => pruneModel(d, [28])).toThrow('ResNet-56 has no unit 28 (its units are 0 to 27)');
    expect(() => pruneModel(d, [1.5])).toThrow('ResNet-56 has no unit 1.5');
  });

  it('prunes torchvision ResNets: BasicBlock layer1 may go, Bottleneck layer1.0 may not', () => {
    const input: [number, number, number] = [3, 64, 64];
    const r18 = describeModel(config({ architecture: 'resnet', depth: 18 }, input));
    const p = pruneModel(r18, [1, 2, 4]);
    expect(p.config).toMatchObject({ architecture: 'resnet', blocks: [0, 1, 2, 2] });
    expect(p.keyMap.get('layer2.0.downsample.0.weight')).toBe('layer2.0.downsample.0.weight');
    expect(p.keyMap.get('fc.weight')).toBe('fc.weight');
    expect(p.description.paramCount).toBe(
      r18.paramCount - r18.units[1].params - r18.units[2].params - r18.units[4].params,
    );
    expectRoundTrip(p);
    const r50 = describeModel(config({ architecture: 'resnet', depth: 50 }, input));
    expect(() => pruneModel(r50, [1])).toThrow(
      'unit 1 (layer1.0): the first block of stage 1 changes width 64→256',
    );
    expect(pruneModel(r50, [2, 3]).keyMap.get('layer2.3.conv3.weight')).toBe('layer2.3.conv3.weight');
  });
});

describe('pruneModel: VGG', () => {
  it('drops a conv, renumbers features.N and carries on a successor whose input width still matches', () => {
    const d = vgg(16);
    const p = pruneModel(d, [1]);
    expect(p.config).toMatchObject({
      layers: [64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
    });
    expect(p.reinit).toEqual([]);
    expect(p.keyMap.get('features.7.weight')).toBe('features.4.weight');
    expect(p.keyMap.get('features.8.running_mean')).toBe('features.5.running_mean');
    expect(p.keyMap.get('features.40.weight')).toBe('features.37.weight');
    expect(p.keyMap.get('classifier.0.weight')).toBe('classifier.0.weight');
    expect(p.description.name).toBe('VGG-16-BN [12 convs]');
    expectRoundTrip(p);
  });

  it('re-initialises the next conv (its BN carried over) when its input width changes', async () => {
    const d = vgg(16);
    const p = pruneModel(d, [2]); // features.7, 64 → 128
    expect(p.reinit).toHaveLength(1);
    const [r] = p.reinit;
    expect(r).toMatchObject({
      unit: 2,
      name: 'features.7',
      oldUnit: 3,
      oldName: 'features.10',
      reason: 'its input width changes from 128 to 64 with features.7 removed',
    });
    expect(r.params.map((q) => [q.key, q.shape])).toEqual([
      ['features.7.weight', [128, 64, 3, 3]],
      ['features.7.bias', [128]],
    ]);
    expect(p.keyMap.has('features.10.weight')).toBe(false);
    expect(p.keyMap.has('features.10.bias')).toBe(false);
    for (const k of ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']) {
      expect(p.keyMap.get(`features.11.${k}`)).toBe(`features.8.${k}`);
    }
    expect(p.keyMap.get('features.14.weight')).toBe('features.11.weight');
    await checkStateDict(p.description, await openStore(carryOver(d, p)));
    const first = pruneModel(d, [0]).reinit;
    expect(first.map((x) => [x.name, x.reason])).toEqual([
      ['features.0', 'its input width changes from 64 to 3 with features.0 removed'],
    ]);
  });

  it('keeps the classifier: refuses removals that change its input, and removing every conv', () => {
    const d = vgg(11);
    expect(pruneModel(d, [6, 7]).config).toMatchObject({
      layers: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 'M'],
    });
    expect(() => pruneModel(d, [4, 5, 6, 7])).toThrow(
      'cannot remove features.15, features.18, features.22, features.25 from VGG-11-BN: ' +
        '"classifier.0.weight" would change from [10, 512] to [10, 256], and it is kept as is',
    );
    expect(() => pruneModel(d, [0, 1, 2, 3, 4, 5, 6, 7])).toThrow('cannot remove all 8 convs of VGG-11-BN');
    const narrow = vgg(11, [64, 'M', 128, 'M', 256, 'M', 256, 512, 'M', 'M']);
    expect(() => pruneModel(narrow, [4])).toThrow(
      'cannot remove protected unit of VGG-11-BN [5 convs]: unit 4 (features.15): the last conv',
    );
  });

  it('keeps the classifier variant it was described with', () => {
    const c = config({ architecture: 'vgg', depth: 11 }, [3, 32, 32], 100);
    const d = describeModel(c, { vggClassifier: 'dropout-mlp' });
    const p = pruneModel(d, [3]);
    expect(p.description.net.family === 'vgg' && p.description.net.classifierKind).toBe('dropout-mlp');
    expect(p.keyMap.get('classifier.6.weight')).toBe('classifier.6.weight');
    expectRoundTrip(p);
  });
});
