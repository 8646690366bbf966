import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { pruneModel } from '../../src/arch/prune.js';
import { config, expectMatchesTorch } from './helpers.js';

const resnet = (
  depth: number,
  shortcut: 'A' | 'B',
  input: [number, number, number],
  extra = {},
  classes = 10,
) => describeModel(config({ architecture: 'cifar-resnet', depth, shortcut, ...extra }, input, classes));

describe('CIFAR ResNet description', () => {
  it('lists the 28 units of ResNet-56, with the stem and the two stride-2 stage heads protected', () => {
    const d = resnet(56, 'A', [3, 32, 32]);
    expect(d.units).toHaveLength(28);
    expect(d.units.map((u) => u.name)).toEqual([
      'conv1',
      ...[1, 2, 3].flatMap((s) => Array.from({ length: 9 }, (_, b) => `layer${s}.${b}`)),
    ]);
    expect(d.units.filter((u) => u.protected).map((u) => u.index)).toEqual([0, 10, 19]);
    expect(d.stem).toBe(0);
    expect(d.units[10].protectedReason).toBe(
      'the first block of stage 2 changes size 32x32→16x16 and width 16→32',
    );
    expect(d.units[0].protectedReason).toMatch(/^the stem/);
    expect(d.units.map((u) => u.stage)).toEqual([0, ...[1, 2, 3].flatMap((s) => Array(9).fill(s))]);
  });

  it('matches PyTorch for CIFAR-10 ResNet-56 with shortcut A: 853,018 params, 125.49 M MACs', () => {
    const d = resnet(56, 'A', [3, 32, 32]);
    expect(d.paramCount).toBe(853_018);
    expect(d.macs).toBe(125_485_696); // the literature's 125.49 M
    expectMatchesTorch(d, 'cifar-resnet-56-A-3x32x32');
  });

  it('matches PyTorch with shortcut B: the standard 855,770 params, shortcut.0/.1 keys', () => {
    const d = resnet(56, 'B', [3, 32, 32]);
    expect(d.paramCount).toBe(855_770);
    expect(d.params.find((p) => p.key === 'layer2.0.shortcut.0.weight')?.shape).toEqual([32, 16, 1, 1]);
    expect(d.params.find((p) => p.key === 'layer3.0.shortcut.1.running_var')?.shape).toEqual([64]);
    expectMatchesTorch(d, 'cifar-resnet-56-B-3x32x32');
  });

  it('describes the 1-channel Fashion-MNIST ResNet-56 (1x28x28): 852,730 params, maps 28→14→7', () => {
    const d = resnet(56, 'A', [1, 28, 28]);
    expect(d.paramCount).toBe(852_730);
    expect(d.params[0]).toEqual({ key: 'conv1.weight', shape: [16, 1, 3, 3], kind: 'weight' });
    expect(d.units[0].output).toEqual([16, 28, 28]);
    expect(d.units[10].output).toEqual([32, 14, 14]);
    expect(d.units[27].output).toEqual([64, 7, 7]);
    expectMatchesTorch(d, 'cifar-resnet-56-A-1x28x28');
  });

  it('gives option A a parameter-free shortcut padding planes/4 channels on each side', () => {
    const d = resnet(20, 'A', [3, 32, 32]);
    if (d.net.family !== 'resnet') throw new Error('expected a ResNet');
    expect(d.net.stages[1][0].shortcut).toEqual({ kind: 'pad', stride: 2, padBefore: 8, padAfter: 8 });
    expect(d.net.stages[1][1].shortcut).toEqual({ kind: 'identity' });
    expect(d.net.stages[2][0].input).toEqual([32, 16, 16]);
    expect(d.net.fc).toMatchObject({ name: 'linear', inFeatures: 64, outFeatures: 10 });
  });

  it('knows every depth: 3n blocks + stem, stage heads at 1 + n and 1 + 2n', () => {
    for (const [depth, n] of [
      [20, 3],
      [32, 5],
      [44, 7],
      [56, 9],
      [110, 18],
    ]) {
      const d = resnet(depth, 'A', [3, 32, 32]);
      expect(d.units).toHaveLength(3 * n + 1);
      expect(d.units.filter((u) => u.protected).map((u) => u.index)).toEqual([0, 1 + n, 1 + 2 * n]);
    }
    expectMatchesTorch(resnet(110, 'A', [3, 32, 32], {}, 100), 'cifar-resnet-110-A-3x32x32-c100');
  });

  it('describes pruned configs with blocks per stage, empty first stage included', () => {
    const d = resnet(56, 'A', [3, 32, 32], { blocks: [9, 5, 7] });
    expect(d.units).toHaveLength(22);
    expect(d.units.map((u) => u.name).slice(9, 16)).toEqual([
      'layer1.8',
      'layer2.0',
      'layer2.1',
      'layer2.2',
      'layer2.3',
      'layer2.4',
      'layer3.0',
    ]);
    expect(d.name).toBe('ResNet-56 [blocks 9,5,7]');
    expectMatchesTorch(
      resnet(20, 'B', [1, 28, 28], { blocks: [0, 2, 3] }),
      'cifar-resnet-20-B-1x28x28-blocks-0,2,3',
    );
  });

  it('lands on the published SGLP ResNet-56 (14 of 28 units kept): 0.372 M params, 59.4 M MACs', () => {
    // SGLP.md: segments 3, 7, 14, 2, 2 keeping 3, 3, 4, 2, 2 units give 0.372 M params and 59.4 M MACs. MACs fix
    // only how many blocks stay (all but the stage heads cost the same); params then allow two splits within
    // 1%: blocks per stage 5, 4, 4 (371,610) and 1, 9, 3 (371,738). The first segment keeps all 3 of its units,
    // so stage 1 keeps at least 2 blocks: 5, 4, 4. Which blocks of a stage go does not change the counts.
    const base = resnet(56, 'A', [3, 32, 32]);
    const removed = [6, 7, 8, 9, 14, 15, 16, 17, 18, 23, 24, 25, 26, 27];
    const pruned = pruneModel(base, removed).description;
    expect(pruned.units).toHaveLength(14);
    expect(pruned.config.architecture === 'cifar-resnet' && pruned.config.blocks).toEqual([5, 4, 4]);
    expect(Math.abs(pruned.paramCount / 372_000 - 1)).toBeLessThan(0.01);
    expect(Math.abs(pruned.macs / 59.4e6 - 1)).toBeLessThan(0.01);
    expect(1 - pruned.paramCount / base.paramCount).toBeCloseTo(0.56, 2); // "−56%"
    expect(1 - pruned.macs / base.macs).toBeCloseTo(0.53, 2); // "−53%"
    expectMatchesTorch(pruned, 'cifar-resnet-56-A-3x32x32-blocks-5,4,4');
  });
});
