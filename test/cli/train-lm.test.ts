import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evalCommand } from '../../src/cli/eval.js';
import { lmTrainOptions, type TrainLmOptions, trainLmCommand } from '../../src/cli/train-lm.js';
import { captureIo } from '../helpers/cli.js';
import { useGpu } from '../helpers/gpu.js';

const getGpu = useGpu();
let root: string;
let textFile: string;

function base(out: string, extra: Partial<TrainLmOptions> = {}): TrainLmOptions {
  return {
    layers: 2,
    hidden: 16,
    heads: 4,
    kvHeads: 2,
    intermediate: 24,
    data: `text:${textFile}`,
    seqLen: 16,
    batch: 4,
    epochs: 2,
    lr: 0.01,
    warmup: 2,
    seed: 3,
    out,
    ...extra,
  };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sglp-train-lm-'));
  textFile = join(root, 'corpus.txt');
  // 95% train / 5% test of ~1.2 kB: 71 train windows of 16 bytes, 3 test windows.
  await writeFile(textFile, 'the cat sat on the mat. the dog sat on the log. '.repeat(25));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('sglp train --arch llama', () => {
  it('trains, checkpoints in Hugging Face layout, and sglp eval reads the result', async () => {
    const gpu = await getGpu();
    const out = join(root, 'run');
    const { io, out: stdout, err } = captureIo();
    const r = await trainLmCommand({ ...base(out), epochs: 3, json: true }, { io, gpu });
    expect(r.history.map((h) => h.epoch)).toEqual([1, 2, 3]);
    expect(r.history[2].trainLoss).toBeLessThan(r.history[0].trainLoss);
    expect(r.history[2].nll).toBeLessThan(Math.log(256) - 1);
    expect(JSON.parse(stdout.join('')).perplexity).toBeCloseTo(r.perplexity, 10);
    expect(err.join('')).toMatch(/epoch 3\/3: train nll .* test perplexity/);
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      architectures: ['LlamaForCausalLM'],
      num_hidden_layers: 2,
      hidden_size: 16,
      num_key_value_heads: 2,
      vocab_size: 256,
      tie_word_embeddings: true,
    });
    const state = JSON.parse(await readFile(join(out, 'train-state.json'), 'utf8'));
    expect(state.completedEpochs).toBe(3);
    // The test split's perplexity through `sglp eval` equals what training reported after the last epoch.
    const ev = captureIo();
    const m = (await evalCommand(
      out,
      { data: `text:${textFile}`, split: 'test', seqLen: 16, json: true },
      { io: ev.io, gpu },
    )) as { perplexity: number; tokens: number };
    expect(m.perplexity).toBeCloseTo(r.perplexity, 4);
  });

  it('--resume after a crash writes the same files as an uninterrupted run', async () => {
    const gpu = await getGpu();
    const whole = join(root, 'whole');
    await trainLmCommand(base(whole), { io: captureIo().io, gpu });
    const cut = join(root, 'cut');
    const crash = captureIo((t) => {
      if (t.startsWith('epoch 1/2:')) throw new Error('simulated crash');
    });
    await expect(trainLmCommand(base(cut), { io: crash.io, gpu })).rejects.toThrow('simulated crash');
    const state1 = JSON.parse(await readFile(join(cut, 'train-state.json'), 'utf8'));
    expect(state1.completedEpochs).toBe(1);
    await expect(trainLmCommand(base(cut), { io: captureIo().io, gpu })).rejects.toThrow(/--resume/);
    await expect(
      trainLmCommand(base(cut, { resume: true, lr: 0.02 }), { io: captureIo().io, gpu }),
    ).rejects.toThrow(/--lr 0\.01 \(now 0\.02\)/);
    const resumed = captureIo();
    await trainLmCommand(base(cut, { resume: true }), { io: resumed.io, gpu });
    expect(resumed.err.join('')).toMatch(/resuming .* after epoch 1\/2/);
    for (const f of ['model.safetensors', 'optimizer.safetensors']) {
      expect(Buffer.compare(await readFile(join(whole, f)), await readFile(join(cut, f))), f).toBe(0);
    }
    const a = JSON.parse(await readFile(join(whole, 'train-state.json'), 'utf8'));
    const b = JSON.parse(await readFile(join(cut, 'train-state.json'), 'utf8'));
    expect(b.history.map((h: { nll: number }) => h.nll)).toEqual(
      a.history.map((h: { nll: number }) => h.nll),
    );
  });

  it('names the culprit of bad flags and data', async () => {
    const gpu = await getGpu();
    const deps = { io: captureIo().io, gpu };
    const out = join(root, 'bad');
    await expect(trainLmCommand(base(out, { heads: 3 }), deps)).rejects.toThrow(/--hidden 16 .*--heads 3/);
    await expect(trainLmCommand(base(out, { kvHeads: 3 }), deps)).rejects.toThrow(/--kv-heads 3/);
    await expect(trainLmCommand(base(out, { layers: 0 }), deps)).rejects.toThrow(/--layers/);
    await expect(trainLmCommand(base(out, { lr: -1 }), deps)).rejects.toThrow(/--lr/);
    await expect(trainLmCommand(base(out, { data: 'fashion-mnist' }), deps)).rejects.toThrow(/text:FILE/);
    await expect(trainLmCommand(base(out, { data: `text:${root}/missing.txt` }), deps)).rejects.toThrow(
      /missing\.txt.*not found/,
    );
    await expect(trainLmCommand(base(out, { seqLen: 4096 }), deps)).rejects.toThrow(/--seq-len 4096/);
    await expect(trainLmCommand(base(out, { warmup: 1000 }), deps)).rejects.toThrow(/--warmup 1000/);
    await expect(trainLmCommand(base(join(root, 'none'), { resume: true }), deps)).rejects.toThrow(
      /no train-state\.json/,
    );
    const full = join(root, 'full');
    await mkdir(full);
    await writeFile(join(full, 'x'), '');
    await expect(trainLmCommand(base(full), deps)).rejects.toThrow(/--out .* not empty/);
  });

  it('maps the shared train flags: CNN defaults do not leak in, flags of the other trainer are errors', () => {
    const cmd = (defaults: string[]) =>
      ({
        getOptionValueSource: (k: string) => (defaults.includes(k) ? 'default' : 'cli'),
      }) as unknown as Command;
    const opts = {
      arch: 'llama',
      data: 'text:x',
      epochs: 1,
      out: 'o',
      lr: 0.1,
      batch: 128,
      hidden: 32,
      depth: 56,
    };
    const lm = lmTrainOptions(opts, cmd(['lr', 'batch', 'depth']));
    expect(lm).toMatchObject({ hidden: 32, data: 'text:x', epochs: 1, out: 'o' });
    expect(lm?.lr).toBeUndefined();
    expect(lm?.batch).toBeUndefined();
    expect(lmTrainOptions(opts, cmd(['depth']))).toMatchObject({ lr: 0.1, batch: 128 });
    expect(() => lmTrainOptions(opts, cmd(['lr']))).toThrow(/--depth: not a flag of --arch llama/);
    expect(() => lmTrainOptions({ ...opts, arch: 'cifar-resnet' }, cmd(['depth']))).toThrow(
      /--hidden: only for --arch llama/,
    );
    expect(lmTrainOptions({ arch: 'cifar-resnet', depth: 20 }, cmd([]))).toBeUndefined();
  });
});
