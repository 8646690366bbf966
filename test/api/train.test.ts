// A Node script that calls the library's train() with runDirectory() writes what `sglp train` writes: the
// same model, optimizer state and config, byte for byte, and the same train-state.json but for timings.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { train } from '../../src/api/train.js';
import { trainLmCommand } from '../../src/cli/train-lm.js';
import { loadImageDataset } from '../../src/node/api.js';
import { runDirectory } from '../../src/node/train-run-dir.js';
import { captureIo, digest } from '../helpers/cli.js';
import { useGpu } from '../helpers/gpu.js';
import { writeTinyMnist } from '../helpers/tiny-model.js';

const run = promisify(execFile);
const getGpu = useGpu();
let root: string;
let data: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sglp-api-train-'));
  data = join(root, 'data');
  await mkdir(data);
  await writeTinyMnist(data, 48, 20);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const TIMINGS = new Set(['seconds', 'imagesPerSecond', 'tokensPerSecond']);

/** train-state.json without the epochs' timings. */
async function stateWithoutTimings(dir: string): Promise<unknown> {
  const state = JSON.parse(await readFile(join(dir, 'train-state.json'), 'utf8'));
  const history = state.history.map((h: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(h).filter(([k]) => !TIMINGS.has(k))),
  );
  return { ...state, history };
}

async function expectSameRun(a: string, b: string): Promise<void> {
  const [da, db] = [await digest(a), await digest(b)];
  for (const f of ['model.safetensors', 'optimizer.safetensors', 'config.json']) expect(da[f], f).toBe(db[f]);
  expect(await stateWithoutTimings(a)).toEqual(await stateWithoutTimings(b));
}

describe('the library train() and sglp train', () => {
  it('write the same image classifier (the sglp binary, as a user runs it)', async () => {
    const gpu = await getGpu();
    const spec = `mnist:${data}`;
    const flags = {
      arch: 'cifar-resnet',
      depth: 20,
      blocks: '1,1,1',
      epochs: 2,
      batch: 16,
      lr: 0.05,
      seed: 5,
    };
    const cli = join(root, 'cli');
    await run(process.execPath, ['scripts/build.mjs', '--no-types']);
    const args = Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]);
    await run(process.execPath, ['dist/cli.js', 'train', ...args, '--data', spec, '--out', cli]);
    const lib = join(root, 'lib');
    const result = await train(
      gpu,
      {
        ...flags,
        blocks: [1, 1, 1],
        data: {
          name: spec,
          train: await loadImageDataset(spec, 'train'),
          test: await loadImageDataset(spec, 'test'),
        },
      },
      { store: runDirectory(lib) },
    );
    expect(result.completedEpochs).toBe(2);
    await expectSameRun(cli, lib);
  });

  it('write the same language model (the command in process)', async () => {
    const gpu = await getGpu();
    const text = join(root, 'corpus.txt');
    const bytes = new TextEncoder().encode('the cat sat on the mat. the dog sat on the log. '.repeat(20));
    await writeFile(text, bytes);
    const flags = { layers: 2, hidden: 16, heads: 4, intermediate: 24, seqLen: 16, batch: 4, epochs: 2 };
    const cli = join(root, 'cli-lm');
    await trainLmCommand(
      { ...flags, warmup: 2, data: `text:${text}`, out: cli },
      { io: captureIo().io, gpu },
    );
    const lib = join(root, 'lib-lm');
    const result = await train(
      gpu,
      { ...flags, warmup: 2, arch: 'llama', data: { name: `text:${text}`, bytes } },
      { store: runDirectory(lib) },
    );
    expect(result.history).toHaveLength(2);
    await expectSameRun(cli, lib);
  });
});
