import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { config, expectMatchesTorch } from './helpers.js';

const resnet = (depth: number, input: [number, number, number] = [3, 224, 224], classes = 1000, extra = {}) =>
  describeModel(config({ architecture: 'resnet', depth, ...extra }, input, classes));

describe('torchvision ResNet description', () => {
  it('has torchvision parameter counts and key lists', () => {
    expect(resnet(18).paramCount).toBe(11_689_512);
    expect(resnet(34).paramCount).toBe(21_797_672);
    expect(resnet(50).paramCount).toBe(25_557_032);
    expect(resnet(101).paramCount).toBe(44_549_160);
    expectMatchesTorch(resnet(18), 'resnet-18-3x224x224');
    expectMatchesTorch(resnet(34), 'resnet-34-3x224x224');
    expectMatchesTorch(resnet(50), 'resnet-50-3x224x224');
    expectMatchesTorch(resnet(101), 'resnet-101-3x224x224');
  });

  it('counts the MACs torchvision publishes (1.81, 3.66, 4.09, 7.80 GFLOPS at 224x224)', () => {
    expect(resnet(18).macs / 1e9).toBeCloseTo(1.81, 2);
    expect(resnet(34).macs / 1e9).toBeCloseTo(3.66, 2);
    expect(resnet(50).macs / 1e9).toBeCloseTo(4.09, 2);
    expect(resnet(101).macs / 1e9).toBeCloseTo(7.8, 2);
  });

  it('protects the stem and every stage head that changes shape; BasicBlock layer1.0 is removable', () => {
    const r18 = resnet(18);
    expect(r18.units.map((u) => u.name)).toEqual([
      'conv1',
      ...['layer1', 'layer2', 'layer3', 'layer4'].flatMap((l) => [`${l}.0`, `${l}.1`]),
    ]);
    expect(r18.units.filter((u) => u.protected).map((u) => u.name)).toEqual([
      'conv1',
      'layer2.0',
      'layer3.0',
      'layer4.0',
    ]);
    const r50 = resnet(50);
    expect(r50.units).toHaveLength(17);
    expect(r50.units.filter((u) => u.protected).map((u) => u.index)).toEqual([0, 1, 4, 8, 14]);
    expect(r50.units[1].protectedReason).toBe('the first block of stage 1 changes width 64→256');
    expect(resnet(101).units).toHaveLength(34);
  });

  it('captures the stem conv before its max pool: 64x112x112 out, 64x56x56 into layer1', () => {
    const d = resnet(50);
    expect(d.units[0].output).toEqual([64, 112, 112]);
    expect(d.units[1].input).toEqual([64, 56, 56]);
    expect(d.units[16].output).toEqual([2048, 7, 7]);
    if (d.net.family !== 'resnet') throw new Error('expected a ResNet');
    expect(d.net.stem.pool).toEqual({ op: 'maxpool2d', kernel: 3, stride: 2, padding: 1 });
    expect(d.net.stages[1][0].body.map((l) => [l.conv.kernel, l.conv.stride])).toEqual([
      [1, 1],
      [3, 2],
      [1, 1],
    ]);
    expect(d.net.fc).toMatchObject({ name: 'fc', inFeatures: 2048, outFeatures: 1000 });
  });

  it('follows odd input sizes and other channel counts as PyTorch does', () => {
    expectMatchesTorch(resnet(50, [1, 97, 97], 10), 'resnet-50-1x97x97-c10');
  });

  it('describes pruned configs, and tiny inputs as PyTorch would run them', () => {
    const d = resnet(18, [3, 224, 224], 1000, { blocks: [0, 1, 2, 1] });
    expect(d.units.map((u) => u.name)).toEqual(['conv1', 'layer2.0', 'layer3.0', 'layer3.1', 'layer4.0']);
    expect(d.units[1].input).toEqual([64, 56, 56]);
    // Padded 3x3 and 1x1 strided convs never shrink a map below 1x1.
    expect(resnet(18, [3, 1, 1]).units.at(-1)?.output).toEqual([512, 1, 1]);
  });
});
