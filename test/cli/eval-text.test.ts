import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeModel } from '../../src/arch/describe.js';
import { evalCommand } from '../../src/cli/eval.js';
import { validateModelConfig } from '../../src/io/config.js';
import { textWindows } from '../../src/io/text-data.js';
import { parseTokenizer } from '../../src/io/tokenizer.js';
import { writeSafetensorsFile } from '../../src/node/files.js';
import { tinyBpeTokenizerJson } from '../helpers/bpe-tokenizer.js';
import { captureIo } from '../helpers/cli.js';
import { useGpu } from '../helpers/gpu.js';
import { type LlamaRefConfig, llamaNllRef } from '../helpers/llm-reference.js';
import { values } from '../helpers/reference.js';

const getGpu = useGpu();
let root: string;
const TEXT =
  'The quick brown fox jumps over the lazy dog. Then the dog wakes up and chases the fox around the ' +
  'yard, while the cat watches from the fence and thinks about the hello of it all. '.repeat(3);

function configJson(vocab: number) {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: vocab,
    rms_norm_eps: 1e-5,
    max_position_embeddings: 64,
    tie_word_embeddings: true,
  };
}

/** Writes a random tiny model directory; returns its weights. */
async function writeModel(dir: string, vocab: number, tokenizer?: string) {
  await mkdir(dir, { recursive: true });
  const cfg = configJson(vocab);
  await writeFile(join(dir, 'config.json'), JSON.stringify(cfg));
  if (tokenizer) await writeFile(join(dir, 'tokenizer.json'), tokenizer);
  const d = describeModel(validateModelConfig(cfg));
  const w: Record<string, Float32Array> = {};
  d.params.forEach((p, i) => {
    const v = values(
      p.shape.reduce((a, b) => a * b, 1),
      50 + i,
      0.4,
    );
    w[p.key] = p.key.endsWith('norm.weight') ? v.map((x) => 1 + x / 2) : v;
  });
  await writeSafetensorsFile(
    join(dir, 'model.safetensors'),
    Object.fromEntries(
      Object.entries(w).map(([k, v]) => [
        k,
        { dtype: 'F32' as const, shape: d.params.find((p) => p.key === k)?.shape ?? [], data: v },
      ]),
    ),
  );
  const ref: LlamaRefConfig = {
    hidden: 16,
    intermediate: 24,
    heads: 4,
    kvHeads: 2,
    headDim: 4,
    vocab,
    layers: 2,
    eps: 1e-5,
    theta: 10000,
    tied: true,
    qkvBias: false,
    oBias: false,
    mlpBias: false,
  };
  return { w, ref };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sglp-eval-text-'));
  await writeFile(join(root, 'corpus.txt'), TEXT);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('sglp eval MODEL --data text:FILE', () => {
  it('gives the perplexity of UTF-8 byte windows, matching the f64 reference', async () => {
    const gpu = await getGpu();
    const model = join(root, 'bytes-model');
    const { w, ref } = await writeModel(model, 256);
    const { io, out } = captureIo();
    const file = join(root, 'corpus.txt');
    const m = await evalCommand(
      model,
      { data: `text:${file}`, split: 'train', seqLen: 16, limit: 5, batch: 2, json: true },
      { io, gpu },
    );
    const data = textWindows(Array.from(new TextEncoder().encode(TEXT)), 'train', 16, { limit: 5 });
    const nll = llamaNllRef(ref, w, data.ids, 5, 16);
    expect(m.tokens).toBe(5 * 15);
    expect(Math.abs(m.nll - nll)).toBeLessThanOrEqual(1e-5 * nll);
    expect(m.perplexity).toBeCloseTo(Math.exp(m.nll), 10);
    expect(JSON.parse(out.join(''))).toEqual({ perplexity: m.perplexity, nll: m.nll, tokens: 75 });

    // The default split is the last 5% of tokens.
    const test = await evalCommand(model, { data: `text:${file}`, seqLen: 8 }, { io, gpu });
    const testData = textWindows(Array.from(new TextEncoder().encode(TEXT)), 'test', 8);
    expect(test.tokens).toBe(testData.windows * 7);
    expect(test.nll).toBeCloseTo(llamaNllRef(ref, w, testData.ids, testData.windows, 8), 4);
  });

  it('tokenizes with the model directory tokenizer.json', async () => {
    const gpu = await getGpu();
    const json = tinyBpeTokenizerJson();
    const model = join(root, 'bpe-model');
    const { w, ref } = await writeModel(model, 261, json);
    const file = join(root, 'corpus.txt');
    const m = await evalCommand(
      model,
      { data: `text:${file}`, split: 'train', seqLen: 12, limit: 3 },
      { io: captureIo().io, gpu },
    );
    const ids = parseTokenizer(json).encode(TEXT);
    expect(ids).toContain(260); // "Ġthe" merged: the tokenizer ran, not bytes
    const data = textWindows(ids, 'train', 12, { limit: 3 });
    expect(m.tokens).toBe(3 * 11);
    expect(Math.abs(m.nll - llamaNllRef(ref, w, data.ids, 3, 12))).toBeLessThanOrEqual(1e-5 * m.nll);
  });

  it('names what is wrong: a CNN, a text too short, a missing file', async () => {
    const gpu = await getGpu();
    const { io } = captureIo();
    const cnn = join(root, 'cnn');
    await mkdir(cnn, { recursive: true });
    await writeFile(
      join(cnn, 'config.json'),
      JSON.stringify({
        architecture: 'cifar-resnet',
        depth: 20,
        shortcut: 'A',
        in_channels: 1,
        num_classes: 10,
        input_size: [1, 28, 28],
        normalize: { mean: [0.5], std: [0.5] },
      }),
    );
    const file = join(root, 'corpus.txt');
    await expect(evalCommand(cnn, { data: `text:${file}` }, { io, gpu })).rejects.toThrow(
      /needs a language model .* not "cifar-resnet"/,
    );
    const model = join(root, 'bytes-model');
    await expect(evalCommand(model, { data: `text:${file}`, seqLen: 64 }, { io, gpu })).rejects.toThrow(
      /\(test\): \d+ tokens \(utf-8 bytes\), not one full window of 64/,
    );
    await expect(evalCommand(model, { data: `text:${join(root, 'nope.txt')}` }, { io, gpu })).rejects.toThrow(
      /text file .*nope\.txt not found/,
    );
  });
});
