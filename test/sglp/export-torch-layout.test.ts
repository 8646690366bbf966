// A pruned export holds exactly the tensors PyTorch's state_dict() of the CIFAR ResNet has (akamaster
// layout: conv1/bn1, layer{s}.{b}.conv1/bn1/conv2/bn2[/shortcut.0/shortcut.1 for option B], linear; every BN
// with num_batches_tracked as an int64 scalar), names, shapes and dtypes, so that
// load_state_dict(strict=True) accepts it (scripts/dev/torch_load_pruned.py checks that with PyTorch itself).
// The expected list is built here by hand from the pruned config.json, independently of src/arch.

import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { pruneModel } from '../../src/arch/prune.js';
import type { CliIo } from '../../src/cli/progress.js';
import { pruneCommand } from '../../src/cli/prune.js';
import type { Gpu } from '../../src/gpu/device.js';
import { validateModelConfig } from '../../src/io/config.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { ParamStore } from '../../src/nn/params.js';
import { openFileSource, writeSafetensorsFile } from '../../src/node/files.js';
import { prunedConfigJson, prunedTensors } from '../../src/sglp/export.js';
import { ParamView } from '../../src/sglp/pruned-view.js';
import { useGpu } from '../helpers/gpu.js';
import { TINY_CONFIG, tinyArrays, writeTinyMnist, writeTinyModel } from '../helpers/tiny-model.js';

const getGpu = useGpu();
let gpu: Gpu;
let root: string;

interface TorchConfig {
  depth: number;
  blocks?: number[];
  shortcut?: string;
  in_channels: number;
  num_classes: number;
}

/** PyTorch's state_dict of akamaster's resnet for this config: name → [dtype, shape]. */
function torchStateDict(cfg: TorchConfig): Map<string, [string, number[]]> {
  const sd = new Map<string, [string, number[]]>();
  const conv = (name: string, o: number, i: number, k: number) =>
    sd.set(`${name}.weight`, ['F32', [o, i, k, k]]);
  const bn = (name: string, c: number) => {
    for (const p of ['weight', 'bias', 'running_mean', 'running_var']) sd.set(`${name}.${p}`, ['F32', [c]]);
    sd.set(`${name}.num_batches_tracked`, ['I64', []]);
  };
  const blocks = cfg.blocks ?? Array(3).fill((cfg.depth - 2) / 6);
  conv('conv1', 16, cfg.in_channels, 3);
  bn('bn1', 16);
  let inPlanes = 16;
  [16, 32, 64].forEach((planes, s) => {
    for (let b = 0; b < blocks[s]; b++) {
      const stride = b === 0 && s > 0 ? 2 : 1;
      const p = `layer${s + 1}.${b}`;
      conv(`${p}.conv1`, planes, inPlanes, 3);
      bn(`${p}.bn1`, planes);
      conv(`${p}.conv2`, planes, planes, 3);
      bn(`${p}.bn2`, planes);
      if ((stride !== 1 || inPlanes !== planes) && cfg.shortcut === 'B') {
        conv(`${p}.shortcut.0`, planes, inPlanes, 1);
        bn(`${p}.shortcut.1`, planes);
      }
      inPlanes = planes;
    }
  });
  sd.set('linear.weight', ['F32', [cfg.num_classes, 64]]);
  sd.set('linear.bias', ['F32', [cfg.num_classes]]);
  return sd;
}

/** name → [dtype, shape] of a safetensors file. */
async function fileLayout(path: string): Promise<Map<string, [string, number[]]>> {
  const src = await openFileSource(path);
  try {
    const st = await openSafetensors(src);
    return new Map(st.keys().map((k) => [k, [st.info(k).dtype, [...st.info(k).shape]]]));
  } finally {
    await src.close?.();
  }
}

const sorted = (m: Map<string, [string, number[]]>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1));

beforeAll(async () => {
  gpu = await getGpu();
  root = await mkdtemp(join(tmpdir(), 'sglp-layout-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('pruned export vs the PyTorch state_dict', () => {
  it('the hand-written layout matches a known count (ResNet-56: 332 tensors, as the bundled model)', () => {
    const sd = torchStateDict({ depth: 56, in_channels: 1, num_classes: 10, shortcut: 'A' });
    expect(sd.size).toBe(332);
    expect(sd.get('layer2.0.conv1.weight')).toEqual(['F32', [32, 16, 3, 3]]);
  });

  const cases: [string, 'A' | 'B', number[]][] = [
    ['option A, a block of each stage', 'A', [2, 5, 8]],
    ['option A, all of stage 1', 'A', [1, 2, 3]],
    ['option B, the later blocks of stages 2 and 3', 'B', [5, 6, 8, 9]],
  ];
  for (const [what, shortcut, removed] of cases) {
    it(`${what}: names, shapes and dtypes are exactly state_dict()'s`, async () => {
      const config = validateModelConfig({ ...TINY_CONFIG, shortcut }, 'tiny');
      const desc = describeModel(config);
      const params = ParamStore.fromArrays(gpu, desc, tinyArrays(desc));
      try {
        const pruned = pruneModel(desc, removed);
        const counter = { dtype: 'I64' as const, shape: [], data: BigInt64Array.of(7n) };
        const path = join(root, `${shortcut}-${removed.join('-')}.safetensors`);
        await writeSafetensorsFile(
          path,
          prunedTensors(pruned, ParamView.ofPruned(params, pruned), () => counter),
          { format: 'pt' },
        );
        const cfg = JSON.parse(prunedConfigJson(pruned)) as TorchConfig;
        expect(sorted(await fileLayout(path))).toEqual(sorted(torchStateDict(cfg)));
      } finally {
        params.dispose();
      }
    });
  }

  it('sglp prune (with fine-tuning) writes model.safetensors in exactly that layout', async () => {
    const data = join(root, 'data');
    const model = join(root, 'model');
    const out = join(root, 'pruned');
    await mkdir(data);
    await mkdir(model);
    await writeTinyMnist(data, 64, 30);
    await writeTinyModel(model);
    const io: CliIo = { stdout: () => {}, stderr: () => {}, tty: false };
    const report = await pruneCommand(
      model,
      {
        data: `mnist:${data}`,
        remove: 3,
        samples: 40,
        batch: 20,
        gradnormBatches: 1,
        gradnormBatchSize: 8,
        finetuneEpochs: 1,
        out,
      },
      { io, gpu },
    );
    expect(report.metrics.afterFinetune).toBeDefined();
    const cfg = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as TorchConfig;
    expect(cfg.blocks?.reduce((a, b) => a + b, 0)).toBe(9 - 3);
    expect(sorted(await fileLayout(join(out, 'model.safetensors')))).toEqual(sorted(torchStateDict(cfg)));
    // The fine-tuned weights were exported, not the pruned view of the input's (linear is never pruned).
    const linear = async (dir: string) => {
      const src = await openFileSource(join(dir, 'model.safetensors'));
      try {
        return await (await openSafetensors(src)).float32('linear.weight');
      } finally {
        await src.close?.();
      }
    };
    expect(await linear(out)).not.toEqual(await linear(model));
  });
});
