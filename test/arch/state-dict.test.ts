import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { StateDictError } from '../../src/arch/errors.js';
import { checkStateDict, checkStateDictKeys } from '../../src/arch/state-dict.js';
import type { ModelDescription } from '../../src/arch/types.js';
import { FormatError } from '../../src/io/errors.js';
import type { TensorToWrite } from '../../src/io/safetensors-write.js';
import { config, openStore, stateDict } from './helpers.js';

const resnet20 = (shortcut: 'A' | 'B' = 'A') =>
  describeModel(config({ architecture: 'cifar-resnet', depth: 20, shortcut }, [1, 28, 28]));

/** The message of the StateDictError that checking `tensors` against `desc` throws. */
async function failure(
  desc: ModelDescription,
  tensors: Record<string, TensorToWrite>,
): Promise<StateDictError> {
  const store = await openStore(tensors);
  try {
    await checkStateDict(desc, store);
  } catch (err) {
    expect(err).toBeInstanceOf(StateDictError);
    expect(err).toBeInstanceOf(FormatError);
    return err as StateDictError;
  }
  throw new Error('expected the checkpoint to be rejected');
}

const f32 = (shape: number[], fill = 0): TensorToWrite => ({
  dtype: 'F32',
  shape,
  data: new Float32Array(shape.reduce((a, d) => a * d, 1)).fill(fill),
});

describe('checkStateDict', () => {
  it('accepts a complete checkpoint, with or without num_batches_tracked, in F32 or F16', async () => {
    const d = resnet20();
    await checkStateDict(d, await openStore(stateDict(d)));
    await checkStateDict(d, await openStore(stateDict(d, { withTracked: false })));
    const half = Object.fromEntries(
      Object.entries(stateDict(d)).map(([k, t]) => [
        k,
        t.dtype === 'F32' ? { ...t, dtype: 'F16' as const } : t,
      ]),
    );
    await checkStateDict(d, await openStore(half));
  });

  it('names a mis-shaped tensor and both shapes, as io does', async () => {
    const d = resnet20();
    const err = await failure(d, { ...stateDict(d), 'layer1.0.conv1.weight': f32([16, 16, 1, 1]) });
    expect(err.message).toBe(
      'model.safetensors: tensor "layer1.0.conv1.weight": shape [16, 16, 1, 1] in the file, expected [16, 16, 3, 3]',
    );
    expect(err.key).toBe('layer1.0.conv1.weight');
  });

  it('names a missing tensor with its expected shape, and counts many', async () => {
    const d = resnet20();
    const { 'linear.bias': _, ...noBias } = stateDict(d);
    expect((await failure(d, noBias)).message).toBe(
      'model.safetensors: tensor "linear.bias": missing (expected shape [10])',
    );
    const noStage3 = Object.fromEntries(
      Object.entries(stateDict(d)).filter(([k]) => !k.startsWith('layer3.')),
    );
    expect((await failure(d, noStage3)).message).toBe(
      'model.safetensors: 30 tensors missing: "layer3.0.conv1.weight", "layer3.0.bn1.weight", ' +
        '"layer3.0.bn1.bias", "layer3.0.bn1.running_mean", "layer3.0.bn1.running_var", …',
    );
  });

  it('lists a few unexpected tensors, and hints at the likely cause', async () => {
    const a = resnet20('A');
    const b = resnet20('B');
    const err = await failure(a, stateDict(b));
    expect(err.message).toBe(
      'model.safetensors: 2 problems for ResNet-20:\n' +
        '  - 12 unexpected tensors (not in ResNet-20): "layer2.0.shortcut.0.weight", "layer2.0.shortcut.1.bias", ' +
        '"layer2.0.shortcut.1.num_batches_tracked", "layer2.0.shortcut.1.running_mean", ' +
        '"layer2.0.shortcut.1.running_var", …\n' +
        '  - the checkpoint has 1x1-conv shortcuts ("shortcut.0"/"shortcut.1"): config.json should say "shortcut": "B"',
    );
    const prefixed = Object.fromEntries(Object.entries(stateDict(a)).map(([k, t]) => [`module.${k}`, t]));
    expect((await failure(a, prefixed)).message).toMatch(
      /- every key starts with "module." \(saved from DataParallel\): strip that prefix$/,
    );
    const extra = (await failure(a, { ...stateDict(a), 'fc.weight': f32([10, 64]) })).message;
    expect(extra).toBe('model.safetensors: 1 unexpected tensor (not in ResNet-20): "fc.weight"');
  });

  it('reports every problem at once, mis-shaped tensors first', async () => {
    const d = resnet20();
    const { 'bn1.bias': _, ...rest } = stateDict(d);
    const err = await failure(d, { ...rest, 'conv1.weight': f32([16, 3, 3, 3]), extra: f32([1]) });
    expect(err.problems.map((p) => p.key)).toEqual(['conv1.weight', 'bn1.bias', undefined]);
    expect(err.message.split('\n')).toEqual([
      'model.safetensors: 3 problems for ResNet-20:',
      '  - tensor "conv1.weight": shape [16, 3, 3, 3] in the file, expected [16, 1, 3, 3]',
      '  - tensor "bn1.bias": missing (expected shape [16])',
      '  - 1 unexpected tensor (not in ResNet-20): "extra"',
    ]);
  });

  it('rejects integer tensors where floats belong', async () => {
    const d = resnet20();
    const ints: TensorToWrite = { dtype: 'I32', shape: [10], data: new Int32Array(10) };
    expect((await failure(d, { ...stateDict(d), 'linear.bias': ints })).message).toBe(
      'model.safetensors: tensor "linear.bias": dtype I32, expected a float type (F32, F16, BF16 or F64)',
    );
  });

  it('rejects NaN and Inf weights and negative running variances, naming the tensor', async () => {
    const d = resnet20();
    const sd = stateDict(d);
    const w = new Float32Array(32).fill(0.5);
    w[3] = Number.NaN;
    w[7] = Number.POSITIVE_INFINITY;
    expect(
      (await failure(d, { ...sd, 'layer2.1.bn1.weight': { dtype: 'F32', shape: [32], data: w } })).message,
    ).toBe(
      'model.safetensors: tensor "layer2.1.bn1.weight": 2 of 32 values are NaN or infinite (the first, at index 3, is NaN)',
    );
    const inf = f32([10, 64], Number.NEGATIVE_INFINITY);
    const v = f32([16], -1);
    const err = await failure(d, { ...sd, 'linear.weight': inf, 'bn1.running_var': v });
    expect(err.message.split('\n')).toEqual([
      'model.safetensors: 2 problems for ResNet-20:',
      '  - tensor "bn1.running_var": 16 of 16 running variances are negative',
      '  - tensor "linear.weight": 640 of 640 values are NaN or infinite (the first, at index 0, is -Infinity)',
    ]);
    // Keys and shapes alone do not read values.
    checkStateDictKeys(d, await openStore({ ...sd, 'linear.weight': inf }));
    await checkStateDict(d, await openStore({ ...sd, 'linear.weight': inf }), { values: false });
  });

  it("says when a VGG checkpoint's classifier is another variant", async () => {
    const c = config({ architecture: 'vgg', depth: 11 }, [3, 32, 32]);
    const bare = describeModel(c, { vggClassifier: 'bare-linear' });
    const err = await failure(describeModel(c), stateDict(bare));
    expect(err.message.split('\n').slice(1)).toEqual([
      '  - 2 tensors missing: "classifier.0.weight", "classifier.0.bias"',
      '  - 2 unexpected tensors (not in VGG-11-BN): "classifier.bias", "classifier.weight"',
      "  - its classifier is the 'bare-linear' variant, not 'linear': describe it with vggClassifier: 'bare-linear'",
    ]);
  });
});
