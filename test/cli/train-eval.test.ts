// `sglp train` and `sglp eval` end to end on a tiny synthetic MNIST-format data set (1x8x8 images, a
// cifar-resnet with one block per stage): checkpoints, --resume bit-identity, --json, clear errors.

import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evalCommand } from '../../src/cli/eval.js';
import { type TrainOptions, trainCommand } from '../../src/cli/train.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { serializeSafetensors } from '../../src/io/safetensors-write.js';
import { openFileSource } from '../../src/node/files.js';
import { captureIo, digest } from '../helpers/cli.js';
import { useGpu } from '../helpers/gpu.js';
import { writeTinyMnist } from '../helpers/tiny-model.js';

const run = promisify(execFile);
const getGpu = useGpu();

let root: string;
let data: string;

const base = (out: string): TrainOptions => ({
  arch: 'cifar-resnet',
  depth: 20,
  blocks: '1,1,1',
  data: `mnist:${data}`,
  epochs: 2,
  out,
  batch: 16,
  lr: 0.05,
  seed: 7,
  json: true,
});

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sglp-cli-'));
  data = join(root, 'data');
  await mkdir(data);
  await writeTinyMnist(data, 64, 30);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('sglp train', () => {
  it('trains 2 epochs, writes the model directory and one JSON object on stdout', async () => {
    const gpu = await getGpu();
    const out = join(root, 'full');
    const { io, out: stdout, err } = captureIo();
    const result = await trainCommand(base(out), { io, gpu });
    expect((await readdir(out)).sort()).toEqual([
      'config.json',
      'model.safetensors',
      'optimizer.safetensors',
      'train-state.json',
    ]);
    expect(stdout).toHaveLength(1);
    expect(stdout[0].endsWith('\n')).toBe(true);
    expect(JSON.parse(stdout[0])).toEqual(JSON.parse(JSON.stringify(result)));
    expect(result.completedEpochs).toBe(2);
    expect(result.history).toHaveLength(2);
    expect(result.samples).toBe(30);
    expect(result.history[1].trainLoss).toBeLessThan(result.history[0].trainLoss);
    expect(err.join('')).toMatch(/epoch 1\/2: train loss .* test accuracy/);

    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      architecture: 'cifar-resnet',
      depth: 20,
      blocks: [1, 1, 1],
      in_channels: 1,
      num_classes: 10,
      input_size: [1, 8, 8],
    });
    expect(config.normalize.mean[0]).toBeGreaterThan(0);
    expect(config.normalize.std[0]).toBeGreaterThan(0);
    const state = JSON.parse(await readFile(join(out, 'train-state.json'), 'utf8'));
    expect(state).toMatchObject({ version: 1, completedEpochs: 2, stepsPerEpoch: 4, step: 8 });

    const src = await openFileSource(join(out, 'model.safetensors'));
    const st = await openSafetensors(src);
    expect(st.metadata).toEqual({ format: 'pt', epoch: '2' });
    expect(st.info('bn1.num_batches_tracked').dtype).toBe('I64');
    expect(Array.from(await st.int32('bn1.num_batches_tracked'))).toEqual([8]);
    expect(st.has('linear.weight')).toBe(true);
    await src.close?.();
  });

  it('--resume after an interrupted epoch 1 gives bit-identical files to an uninterrupted run', async () => {
    const gpu = await getGpu();
    const out = join(root, 'resumed');
    // Simulate a crash right after epoch 1's checkpoint (its summary line comes after the writes).
    const crash = captureIo((t) => {
      if (t.startsWith('epoch 1/2:')) throw new Error('simulated crash');
    });
    await expect(trainCommand(base(out), { io: crash.io, gpu })).rejects.toThrow('simulated crash');
    const state1 = JSON.parse(await readFile(join(out, 'train-state.json'), 'utf8'));
    expect(state1.completedEpochs).toBe(1);

    const { io, err } = captureIo();
    const result = await trainCommand({ ...base(out), resume: true }, { io, gpu });
    expect(err.join('')).toContain('resuming');
    expect(result.completedEpochs).toBe(2);
    const full = await digest(join(root, 'full'));
    const resumed = await digest(out);
    expect(resumed['model.safetensors']).toBe(full['model.safetensors']);
    expect(resumed['optimizer.safetensors']).toBe(full['optimizer.safetensors']);
    expect(resumed['config.json']).toBe(full['config.json']);
  });

  it('refuses a non-empty --out without --resume, and --resume with other settings or nothing to resume', async () => {
    const gpu = await getGpu();
    const { io } = captureIo();
    const full = join(root, 'full');
    const before = await digest(full);
    await expect(trainCommand(base(full), { io, gpu })).rejects.toThrow(/not empty.*--resume/);
    await expect(trainCommand({ ...base(full), resume: true, lr: 0.1 }, { io, gpu })).rejects.toThrow(
      /--lr 0\.05 \(now 0\.1\)/,
    );
    await expect(trainCommand({ ...base(join(root, 'none')), resume: true }, { io, gpu })).rejects.toThrow(
      /no train-state\.json/,
    );
    expect(await digest(full)).toEqual(before);
  });

  it('names the culprit for a flag of another architecture, an unknown architecture and a bad depth', async () => {
    const gpu = await getGpu();
    const { io } = captureIo();
    const out = join(root, 'bad');
    await expect(trainCommand({ ...base(out), arch: 'vgg' }, { io, gpu })).rejects.toThrow(
      /--blocks: only for --arch cifar-resnet and resnet/,
    );
    await expect(trainCommand({ ...base(out), arch: 'lenet' }, { io, gpu })).rejects.toThrow(
      /unknown architecture "lenet"/,
    );
    await expect(trainCommand({ ...base(out), depth: 21 }, { io, gpu })).rejects.toThrow(/"depth"/);
    await expect(trainCommand({ ...base(out), inChannels: 3 }, { io, gpu })).rejects.toThrow(
      /--in-channels 3/,
    );
  });
});

describe('sglp eval', () => {
  it('evaluates a trained model, matching the last epoch of training, and never modifies it', async () => {
    const gpu = await getGpu();
    const model = join(root, 'full');
    const before = await digest(model);
    const state = JSON.parse(await readFile(join(model, 'train-state.json'), 'utf8'));
    const { io, out } = captureIo();
    const m = await evalCommand(model, { data: `mnist:${data}`, json: true, batch: 7 }, { io, gpu });
    expect(out).toHaveLength(1);
    expect(Object.keys(JSON.parse(out[0]))).toEqual(['accuracy', 'loss', 'samples']);
    expect(m.samples).toBe(30);
    expect(m.accuracy).toBe(state.history[1].accuracy);
    expect(m.loss).toBeCloseTo(state.history[1].loss, 5);
    const limited = await evalCommand(
      model,
      { data: `mnist:${data}`, split: 'train', limit: 10 },
      { io: captureIo().io, gpu },
    );
    expect(limited.samples).toBe(10);
    expect(await digest(model)).toEqual(before);
  });

  it('gives clear errors: missing directory, a language model with image data, missing tensor, wrong data', async () => {
    const gpu = await getGpu();
    const { io } = captureIo();
    const spec = `mnist:${data}`;
    await expect(evalCommand(join(root, 'nope'), { data: spec }, { io, gpu })).rejects.toThrow(
      /model directory .*nope not found/,
    );

    const lm = join(root, 'lm');
    await mkdir(lm);
    await writeFile(
      join(lm, 'config.json'),
      JSON.stringify({
        architectures: ['LlamaForCausalLM'],
        model_type: 'llama',
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        vocab_size: 256,
        rms_norm_eps: 1e-5,
        max_position_embeddings: 64,
      }),
    );
    await expect(evalCommand(lm, { data: spec }, { io, gpu })).rejects.toThrow(
      /language model: give it text data \(--data text:FILE\)/,
    );

    // A checkpoint without linear.weight: the error names the key.
    const broken = join(root, 'broken');
    await cp(join(root, 'full'), broken, { recursive: true });
    const src = await openFileSource(join(broken, 'model.safetensors'));
    const st = await openSafetensors(src);
    const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
    for (const k of st.keys()) {
      if (k === 'linear.weight' || k.endsWith('num_batches_tracked')) continue;
      tensors[k] = { dtype: 'F32', shape: [...st.info(k).shape], data: await st.float32(k) };
    }
    await src.close?.();
    await writeFile(join(broken, 'model.safetensors'), await serializeSafetensors(tensors));
    await expect(evalCommand(broken, { data: spec }, { io, gpu })).rejects.toThrow(/linear\.weight/);

    await expect(evalCommand(join(root, 'full'), { data: 'mnist:/nowhere' }, { io, gpu })).rejects.toThrow(
      /\/nowhere/,
    );
    await expect(evalCommand(join(root, 'full'), { data: 'fashion' }, { io, gpu })).rejects.toThrow(
      /unknown data set "fashion"/,
    );
  });
});

describe('the sglp binary', () => {
  beforeAll(async () => {
    await run(process.execPath, ['scripts/build.mjs', '--no-types']);
  });
  const cli = (args: string[]) =>
    run(process.execPath, ['dist/cli.js', ...args]).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        stdout: e.stdout,
        stderr: e.stderr,
      }),
    );

  it('eval --json prints exactly one JSON object on stdout; progress goes to stderr', async () => {
    const r = await cli(['eval', join(root, 'full'), '--data', `mnist:${data}`, '--json']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(Object.keys(JSON.parse(r.stdout))).toEqual(['accuracy', 'loss', 'samples']);
    expect(r.stderr).toMatch(/eval test .*batches/);
  });

  it('exits non-zero with a message naming the culprit', async () => {
    const missing = await cli(['eval', join(root, 'nope'), '--data', `mnist:${data}`]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/sglp: model directory .*nope not found/);
    expect(missing.stdout).toBe('');
    const flag = await cli(['eval', join(root, 'full'), '--data', `mnist:${data}`, '--limit', 'ten']);
    expect(flag.code).not.toBe(0);
    expect(flag.stderr).toMatch(/--limit <N>.*"ten"/);
    const arch = await cli([
      'train',
      '--arch',
      'lenet',
      '--data',
      `mnist:${data}`,
      '--epochs',
      '1',
      '--out',
      join(root, 'x'),
    ]);
    expect(arch.code).not.toBe(0);
    expect(arch.stderr).toMatch(/unknown architecture "lenet"/);
    const help = await cli(['train', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--resume');
  });
});
