// The commands run torchvision ResNets too, not just the CIFAR ResNet: a ResNet-18 with fewer blocks (its
// stem pool and stride-2 stages take 8x8 images down to 1x1) evaluates through `sglp eval` and prunes end to
// end with `sglp prune`. (VGG's five pools need 32x32 images; its layers are tested in test/nn/vgg.test.ts.)

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { evalCommand } from '../../src/cli/eval.js';
import type { CliIo } from '../../src/cli/progress.js';
import { pruneCommand } from '../../src/cli/prune.js';
import { validateModelConfig } from '../../src/io/config.js';
import type { TensorToWrite } from '../../src/io/safetensors-write.js';
import { writeFileAtomic, writeSafetensorsFile } from '../../src/node/files.js';
import { parseReport } from '../../src/sglp/report/schema.js';
import { useGpu } from '../helpers/gpu.js';
import { tinyArrays, writeTinyMnist } from '../helpers/tiny-model.js';

const getGpu = useGpu();
let root: string;
let data: string;

const common = {
  in_channels: 1,
  num_classes: 10,
  input_size: [1, 8, 8],
  normalize: { mean: [0.3], std: [0.3] },
};
const RESNET = { architecture: 'resnet', depth: 18, blocks: [2, 1, 1, 1], ...common };

const silent: CliIo = { stdout: () => {}, stderr: () => {}, tty: false };

async function writeModel(dir: string, config: object): Promise<void> {
  const desc = describeModel(validateModelConfig(config, 'test config'));
  const arrays = tinyArrays(desc, 3);
  const tensors: Record<string, TensorToWrite> = {};
  for (const p of desc.params) tensors[p.key] = { dtype: 'F32', shape: p.shape, data: arrays[p.key] };
  await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  await writeFileAtomic(join(dir, 'config.json'), `${JSON.stringify(config)}\n`);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sglp-arch-'));
  data = join(root, 'data');
  await mkdir(data);
  await writeTinyMnist(data, 64, 40);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('commands on a torchvision ResNet', () => {
  it('sglp eval runs it', async () => {
    const gpu = await getGpu();
    const dir = join(root, 'resnet');
    await mkdir(dir);
    await writeModel(dir, RESNET);
    const m = await evalCommand(dir, { data: `mnist:${data}` }, { io: silent, gpu });
    expect(m.samples).toBe(40);
    expect(Number.isFinite(m.loss)).toBe(true);
  });

  it('sglp prune removes an unprotected torchvision block and the pruned model evaluates to the report', async () => {
    const gpu = await getGpu();
    const out = join(root, 'resnet-pruned');
    const report = await pruneCommand(
      join(root, 'resnet'),
      {
        data: `mnist:${data}`,
        remove: 1,
        segments: 3,
        samples: 32,
        batch: 16,
        gradnormBatches: 1,
        gradnormBatchSize: 16,
        out,
      },
      { io: silent, gpu },
    );
    const r = parseReport(report, 'report');
    expect(r.model.architecture).toBe('resnet');
    expect(r.removed).toHaveLength(1);
    for (const u of r.removed) expect(r.units[u].protected).toBe(false);
    const m = await evalCommand(out, { data: `mnist:${data}` }, { io: silent, gpu });
    // The export carries the recalibrated BN statistics.
    const after = r.metrics.recalibrated as { accuracy: number; loss: number };
    expect(m.accuracy).toBe(after.accuracy);
    expect(m.loss).toBeCloseTo(after.loss, 5);
  });
});
