// `sglp prune` on a tiny CIFAR VGG-BN (test/helpers/tiny-vgg.ts) end to end: the pruned directory holds
// exactly the state_dict of PyTorch's nn.Sequential built from the new layer list (built here by hand, not
// with src/arch), `sglp eval` on it gives the report's "after", the report and report.html name the
// re-initialised conv, two runs write the same bytes, and the input directory is left alone.

import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evalCommand } from '../../src/cli/eval.js';
import { type PruneCliOptions, pruneCommand } from '../../src/cli/prune.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { openFileSource } from '../../src/node/files.js';
import { parseReport, type Report, reportWithoutTimings } from '../../src/sglp/report/schema.js';
import { captureIo, digest } from '../helpers/cli.js';
import { useGpu } from '../helpers/gpu.js';
import { writeTinyMnist32, writeTinyVgg } from '../helpers/tiny-vgg.js';

const getGpu = useGpu();

let root: string;
let data: string;
let model: string;

const base = (out: string): PruneCliOptions => ({
  data: `mnist:${data}`,
  remove: 2,
  segments: 1,
  samples: 24,
  batch: 12,
  gradnormBatches: 1,
  gradnormBatchSize: 8,
  out,
  json: true,
});

/** nn.Sequential(make_layers(cfg, batch_norm=True)) + nn.Sequential(nn.Linear): name → [dtype, shape]. */
function torchVggStateDict(layers: (number | 'M')[], inChannels: number, classes: number) {
  const sd = new Map<string, [string, number[]]>();
  let c = inChannels;
  let i = 0;
  for (const l of layers) {
    if (l === 'M') {
      i += 1;
      continue;
    }
    sd.set(`features.${i}.weight`, ['F32', [l, c, 3, 3]]);
    sd.set(`features.${i}.bias`, ['F32', [l]]);
    for (const p of ['weight', 'bias', 'running_mean', 'running_var']) {
      sd.set(`features.${i + 1}.${p}`, ['F32', [l]]);
    }
    sd.set(`features.${i + 1}.num_batches_tracked`, ['I64', []]);
    c = l;
    i += 3; // conv, BN, ReLU
  }
  sd.set('classifier.0.weight', ['F32', [classes, c]]); // five pools: 32x32 → 1x1
  sd.set('classifier.0.bias', ['F32', [classes]]);
  return sd;
}

async function layout(path: string): Promise<[string, [string, number[]]][]> {
  const src = await openFileSource(path);
  try {
    const st = await openSafetensors(src);
    return st
      .keys()
      .map((k) => [k, [st.info(k).dtype, [...st.info(k).shape]]] as [string, [string, number[]]])
      .sort(([a], [b]) => (a < b ? -1 : 1));
  } finally {
    await src.close?.();
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sglp-prune-vgg-'));
  data = join(root, 'data');
  model = join(root, 'model');
  await mkdir(data);
  await mkdir(model);
  await writeTinyMnist32(data, 24, 20);
  await writeTinyVgg(model);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('sglp prune on a VGG', () => {
  it('writes a PyTorch-loadable VGG that sglp eval scores as the report says, naming re-initialised convs', async () => {
    const gpu = await getGpu();
    const before = await digest(model);
    const out = join(root, 'pruned');
    const report = parseReport(await pruneCommand(model, base(out), { io: captureIo().io, gpu }), 'report');
    expect(report.model.architecture).toBe('vgg');
    expect(report.removed).toHaveLength(2);
    expect(report.reinitialised?.length).toBeGreaterThan(0);
    expect(await digest(model)).toEqual(before);

    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config.layers.filter((l: number | 'M') => l === 'M')).toHaveLength(5);
    expect(config.layers.filter((l: number | 'M') => l !== 'M')).toHaveLength(3);
    const expected = [...torchVggStateDict(config.layers, 1, 10)].sort(([a], [b]) => (a < b ? -1 : 1));
    expect(await layout(join(out, 'model.safetensors'))).toEqual(expected);
    // Every re-initialised conv is named as PyTorch numbers it; its BN's counter is carried over.
    const src = await openFileSource(join(out, 'model.safetensors'));
    try {
      const st = await openSafetensors(src);
      for (const x of report.reinitialised ?? []) {
        expect(st.keys()).toContain(`${x.name}.weight`);
        const bn = `features.${Number(x.name.split('.')[1]) + 1}.num_batches_tracked`;
        expect(Array.from(await st.int32(bn))).toEqual([42]);
      }
    } finally {
      await src.close?.();
    }

    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('Re-initialised');
    for (const x of report.reinitialised ?? []) expect(html).toContain(x.name);

    const m = await evalCommand(out, { data: `mnist:${data}` }, { io: captureIo().io, gpu });
    // The export carries the recalibrated BN statistics.
    const after = report.metrics.recalibrated as { accuracy: number; loss: number; samples: number };
    expect(m.samples).toBe(after.samples);
    expect(m.accuracy).toBe(after.accuracy);
    expect(m.loss).toBeCloseTo(after.loss, 6);
  });

  it('gives identical reports and model files from two runs; --seed changes the fresh weights', async () => {
    const gpu = await getGpu();
    const dirs = ['a', 'b', 'c'].map((d) => join(root, d));
    const runs: Report[] = [];
    for (const [i, out] of dirs.entries()) {
      runs.push(
        await pruneCommand(
          model,
          { ...base(out), evalLimit: 10, seed: i === 2 ? 9 : undefined },
          {
            io: captureIo().io,
            gpu,
          },
        ),
      );
    }
    const strip = (r: Report) => ({
      ...reportWithoutTimings(r),
      model: { ...r.model, output: '' },
    });
    expect(strip(runs[1])).toEqual(strip(runs[0]));
    const [da, db, dc] = await Promise.all(dirs.map((d) => digest(d)));
    expect(db['model.safetensors']).toBe(da['model.safetensors']);
    expect(db['config.json']).toBe(da['config.json']);
    expect(runs[2].protocol.seed).toBe(9);
    expect(dc['model.safetensors']).not.toBe(da['model.safetensors']);
  });
});
