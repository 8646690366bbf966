// `sglp train --arch vgg` and `--arch resnet` end to end on tiny data sets: a 5-conv VGG on 1x32x32 images
// (VGG's five 2x2 pools need 32x32) and a torchvision ResNet-18 with one block per stage on 1x8x8 images.
// Each trains 2 epochs with falling loss, `sglp eval` reproduces the last test accuracy, a resumed run is
// bit-identical to an uninterrupted one, and flags of another architecture are named errors.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evalCommand } from '../../src/cli/eval.js';
import { type TrainOptions, trainCommand } from '../../src/cli/train.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { openFileSource } from '../../src/node/files.js';
import { captureIo, digest } from '../helpers/cli.js';
import { useGpu } from '../helpers/gpu.js';
import { writeTinyMnist } from '../helpers/tiny-model.js';

const run = promisify(execFile);
const getGpu = useGpu();

let root: string;
let data32: string;
let data8: string;

function idx(dims: number[], values: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt8(8, 2);
  head.writeUInt8(dims.length, 3);
  dims.forEach((d, i) => {
    head.writeUInt32BE(d, 4 + 4 * i);
  });
  return gzipSync(Buffer.concat([head, Buffer.from(values)]));
}

/** n 32x32 images of 4 classes: class y lights the horizontal band of rows 8y..8y+7, plus seeded noise. */
function bandImages(n: number, seed: number): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(n * 1024);
  const labels = new Uint8Array(n);
  let s = seed;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (let i = 0; i < n; i++) {
    const y = i % 4;
    labels[i] = y;
    for (let p = 0; p < 1024; p++) {
      const on = Math.floor(p / 32 / 8) === y;
      images[i * 1024 + p] = Math.floor((on ? 170 : 20) + 80 * rand());
    }
  }
  return { images, labels };
}

async function writeBandMnist(dir: string, trainN: number, testN: number): Promise<void> {
  for (const [prefix, n, seed] of [
    ['train', trainN, 1],
    ['t10k', testN, 2],
  ] as const) {
    const { images, labels } = bandImages(n, seed);
    await writeFile(join(dir, `${prefix}-images-idx3-ubyte.gz`), idx([n, 32, 32], images));
    await writeFile(join(dir, `${prefix}-labels-idx1-ubyte.gz`), idx([n], labels));
  }
}

const vgg = (out: string): TrainOptions => ({
  arch: 'vgg',
  depth: 11,
  layers: '4,M,8,M,8,M,8,M,8,M',
  data: `mnist:${data32}`,
  epochs: 2,
  out,
  batch: 8,
  lr: 0.05,
  seed: 3,
  json: true,
});

const resnet = (out: string): TrainOptions => ({
  arch: 'resnet',
  depth: 18,
  blocks: '1,1,1,1',
  data: `mnist:${data8}`,
  epochs: 2,
  out,
  batch: 16,
  lr: 0.01,
  seed: 3,
  // A crop with 4 pixels of padding hides most of an 8x8 image's row or column: no augmentation here.
  augment: false,
  json: true,
});

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sglp-train-arch-'));
  data32 = join(root, 'data32');
  data8 = join(root, 'data8');
  await mkdir(data32);
  await mkdir(data8);
  await writeBandMnist(data32, 32, 12);
  await writeTinyMnist(data8, 96, 20);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const cases = [
  {
    name: 'vgg',
    options: vgg,
    data: () => `mnist:${data32}`,
    config: {
      architecture: 'vgg',
      depth: 11,
      batch_norm: true,
      layers: [4, 'M', 8, 'M', 8, 'M', 8, 'M', 8, 'M'],
    },
    keys: ['features.0.weight', 'features.13.running_var', 'classifier.0.weight'],
    samples: 12,
  },
  {
    name: 'resnet',
    options: resnet,
    data: () => `mnist:${data8}`,
    config: { architecture: 'resnet', depth: 18, blocks: [1, 1, 1, 1] },
    keys: ['conv1.weight', 'layer4.0.downsample.1.running_mean', 'fc.weight'],
    samples: 20,
  },
] as const;

describe.each(cases)('sglp train --arch $name', (c) => {
  it('trains 2 epochs with falling loss; eval reproduces the last test accuracy; --resume is bit-identical', async () => {
    const gpu = await getGpu();
    const out = join(root, `${c.name}-full`);
    const { io, out: stdout, err } = captureIo();
    const result = await trainCommand(c.options(out), { io, gpu });
    expect(stdout).toHaveLength(1);
    expect(result.completedEpochs).toBe(2);
    expect(result.samples).toBe(c.samples);
    expect(result.history[1].trainLoss).toBeLessThan(result.history[0].trainLoss);
    expect(err.join('')).toMatch(/epoch 2\/2: train loss .* test accuracy/);

    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ ...c.config, in_channels: 1 });
    expect(config.shortcut).toBeUndefined();
    const state = JSON.parse(await readFile(join(out, 'train-state.json'), 'utf8'));
    expect(state.settings.shortcut).toBeUndefined();
    const src = await openFileSource(join(out, 'model.safetensors'));
    const st = await openSafetensors(src);
    for (const k of c.keys) expect(st.has(k), k).toBe(true);
    await src.close?.();

    const before = await digest(out);
    const m = await evalCommand(out, { data: c.data(), batch: 5 }, { io: captureIo().io, gpu });
    expect(m.samples).toBe(c.samples);
    expect(m.accuracy).toBe(result.accuracy);
    expect(m.loss).toBeCloseTo(result.loss, 5);
    expect(await digest(out)).toEqual(before);

    // A crash right after epoch 1's checkpoint, then --resume: the same files as the uninterrupted run.
    const resumed = join(root, `${c.name}-resumed`);
    const crash = captureIo((t) => {
      if (t.startsWith('epoch 1/2:')) throw new Error('simulated crash');
    });
    await expect(trainCommand(c.options(resumed), { io: crash.io, gpu })).rejects.toThrow('simulated crash');
    const again = captureIo();
    const r2 = await trainCommand({ ...c.options(resumed), resume: true }, { io: again.io, gpu });
    expect(again.err.join('')).toContain('resuming');
    expect(r2.accuracy).toBe(result.accuracy);
    const full = await digest(out);
    const got = await digest(resumed);
    // train-state.json differs only in its timings.
    for (const f of ['model.safetensors', 'optimizer.safetensors', 'config.json'])
      expect(got[f], f).toBe(full[f]);
  });
});

describe('sglp train flags per architecture', () => {
  it('names the flag that does not fit the architecture, and bad --blocks / --layers / --depth', async () => {
    const gpu = await getGpu();
    const { io } = captureIo();
    const deps = { io, gpu };
    const out = join(root, 'bad');
    await expect(trainCommand({ ...vgg(out), shortcut: 'B' }, deps)).rejects.toThrow(
      /--shortcut: only for --arch cifar-resnet \(got --arch vgg\)/,
    );
    await expect(trainCommand({ ...resnet(out), shortcut: 'A' }, deps)).rejects.toThrow(/--shortcut: only/);
    await expect(trainCommand({ ...vgg(out), blocks: '1,1,1' }, deps)).rejects.toThrow(
      /--blocks: only for --arch cifar-resnet and resnet/,
    );
    await expect(trainCommand({ ...resnet(out), layers: '8,M' }, deps)).rejects.toThrow(
      /--layers: only for --arch vgg/,
    );
    await expect(trainCommand({ ...resnet(out), blocks: '1,1,1' }, deps)).rejects.toThrow(
      /--blocks must be four counts .* got "1,1,1"/,
    );
    await expect(
      trainCommand({ ...resnet(out), arch: 'cifar-resnet', depth: 20, blocks: '1,1,1,1' }, deps),
    ).rejects.toThrow(/--blocks must be three counts .* got "1,1,1,1"/);
    await expect(trainCommand({ ...vgg(out), layers: '8,X,16' }, deps)).rejects.toThrow(/"X" in "8,X,16"/);
    // Schema checks name the field: VGG-11 has five pools and at most 8 convs; ResNet depths are torchvision's.
    await expect(trainCommand({ ...vgg(out), layers: '8,M,8,M' }, deps)).rejects.toThrow(/layers.*"M" pools/);
    await expect(trainCommand({ ...vgg(out), depth: 12 }, deps)).rejects.toThrow(/"depth"/);
    await expect(trainCommand({ ...resnet(out), depth: 20 }, deps)).rejects.toThrow(/"depth"/);
    await expect(trainCommand({ ...resnet(out), blocks: '3,1,1,1' }, deps)).rejects.toThrow(/blocks/);
    // VGG's five 2x2 pools do not fit an 8x8 image.
    await expect(trainCommand({ ...vgg(out), data: `mnist:${data8}` }, deps)).rejects.toThrow(/8x8/);
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
  });
});

describe('the sglp binary', () => {
  beforeAll(async () => {
    await run(process.execPath, ['scripts/build.mjs', '--no-types']);
  });
  const cli = (args: string[]) =>
    run(process.execPath, ['dist/cli.js', 'train', ...args]).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        stdout: e.stdout,
        stderr: e.stderr,
      }),
    );
  const common = (out: string) => ['--data', `mnist:${data32}`, '--epochs', '1', '--out', join(root, out)];

  it('takes a vgg layer list through --layers (shared with llama) and refuses flags of other architectures', async () => {
    const layers = ['--layers', '4,M,8,M,8,M,8,M,8,M'];
    const ok = await cli([
      '--arch',
      'vgg',
      '--depth',
      '11',
      ...layers,
      ...common('cli-vgg'),
      '--limit',
      '8',
      '--json',
    ]);
    expect(ok.stderr).not.toMatch(/sglp:/);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ completedEpochs: 1, samples: 8 });
    const config = JSON.parse(await readFile(join(root, 'cli-vgg', 'config.json'), 'utf8'));
    expect(config.layers).toEqual([4, 'M', 8, 'M', 8, 'M', 8, 'M', 8, 'M']);

    const shortcut = await cli(['--arch', 'vgg', '--shortcut', 'A', ...common('cli-x')]);
    expect(shortcut.code).not.toBe(0);
    expect(shortcut.stderr).toMatch(/sglp: --shortcut: only for --arch cifar-resnet/);
    const resnetLayers = await cli(['--arch', 'resnet', ...layers, ...common('cli-x')]);
    expect(resnetLayers.stderr).toMatch(
      /sglp: --layers: only for --arch llama and vgg \(got --arch resnet\)/,
    );
    const llamaList = await cli([
      '--arch',
      'llama',
      ...layers,
      '--data',
      'text:nope.txt',
      '--epochs',
      '1',
      '--out',
      join(root, 'cli-x'),
    ]);
    expect(llamaList.code).not.toBe(0);
    expect(llamaList.stderr).toMatch(/--layers/);
    const help = await cli(['--help']);
    expect(help.stdout).toMatch(/vgg:\s+11,\s+13,\s+16\s+or\s+19/);
    await expect(readdir(join(root, 'cli-x'))).rejects.toThrow(/ENOENT/);
  });
});
